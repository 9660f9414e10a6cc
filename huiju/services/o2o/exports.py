"""Settlements as files for the finance office: CSV (UTF-8 with a byte-order mark, so that
spreadsheet programs read the Chinese) and XLSX (a summary sheet and an order sheet).

Amounts are shown in yuan with two decimals, computed from fen with integers (never a float); the
XLSX cells also hold them as numbers in yuan with a two-decimal format, written from those strings.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.errors import InputError
from huiju.i18n import Message, _, localize
from huiju.labels import label
from huiju.models import Settlement
from huiju.services.o2o.settlement import orders_of

SUMMARY_COLUMNS: list[Message] = [
    _("month"), _("settlement number"), _("provider code"), _("provider"), _("orders"), _("order amount (yuan)"),
    _("paid by service credit (yuan)"), _("paid by residents (yuan)"), _("platform fee (yuan)"),
    _("payable to the provider (yuan)"), _("status"), _("data exchange record"),
]  # fmt: skip
ORDER_COLUMNS: list[Message] = [
    _("settlement number"), _("order number"), _("service"), _("confirmed at"), _("order amount (yuan)"),
    _("paid by service credit (yuan)"), _("paid by residents (yuan)"),
]  # fmt: skip


def yuan_text(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _summary_rows(settlements: list[Settlement], locale: str) -> list[list[str]]:
    return [
        [s.month, str(s.record.get("settlement_number", "")), s.provider.code, s.provider.name, str(s.orders),
         yuan_text(s.total_fen), yuan_text(s.credit_fen), yuan_text(s.cash_fen), yuan_text(s.fee_fen),
         yuan_text(s.payable_fen), label("settlement_status", s.status.value, locale), s.record_id or ""]
        for s in settlements
    ]  # fmt: skip


def _order_rows(session: Session, settlements: list[Settlement]) -> list[list[str]]:
    rows = []
    for s in settlements:
        for order in orders_of(session, s):
            # Beijing time, with its offset: what the provider and the operator read the month by.
            confirmed = order.confirmed_at.astimezone(CHINA).isoformat(timespec="seconds") if order.confirmed_at else ""
            rows.append(
                [
                    str(s.record.get("settlement_number", "")),
                    order.number,
                    order.service.name,
                    confirmed,
                    yuan_text(order.total_fen),
                    yuan_text(order.credit_fen),
                    yuan_text(order.cash_fen),
                ]
            )
    return rows


def to_csv(session: Session, settlements: list[Settlement], locale: str = "zh_CN") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow([localize(c, locale) for c in SUMMARY_COLUMNS])
    writer.writerows(_summary_rows(settlements, locale))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(session: Session, settlements: list[Settlement], locale: str = "zh_CN") -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = localize(_("settlements"), locale)[:31]
    _fill(summary, [localize(c, locale) for c in SUMMARY_COLUMNS], _summary_rows(settlements, locale), {5, 6, 7, 8, 9})
    lines = book.create_sheet(localize(_("orders"), locale)[:31])
    _fill(lines, [localize(c, locale) for c in ORDER_COLUMNS], _order_rows(session, settlements), {4, 5, 6})
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fill(sheet: object, heading: list[str], rows: list[list[str]], money: set[int]) -> None:
    sheet.append(heading)  # type: ignore[attr-defined]
    for row in rows:
        sheet.append([Decimal(v) if i in money else v for i, v in enumerate(row)])  # type: ignore[attr-defined]
    for column in money:
        for cell in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):  # type: ignore[attr-defined]
            cell[0].number_format = "0.00"


#: File kinds a settlement is exported as, and their media types.
KINDS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def export(session: Session, settlements: list[Settlement], kind: str, locale: str = "zh_CN") -> bytes:
    if kind not in KINDS:
        raise InputError(_("export as csv or xlsx"), field="kind")
    return to_csv(session, settlements, locale) if kind == "csv" else to_xlsx(session, settlements, locale)
