"""The elderly-care service credit (服务券), in fen, as benefit-delivery systems such as OpenG2P model it:

entitlement (an approved subsidy: so much a month, from the decision, for the policy's months)
→ monthly top-ups while it lasts → spent by orders → returned on cancellation → settled.

Every balance change is one conditional ``UPDATE ... RETURNING`` and one ledger entry in the same
transaction: a spend never takes a balance below zero (``WHERE balance_fen >= :amount``; the
database also refuses it by a check constraint) and the entries always add up to the balance.
Concurrent spends on PostgreSQL wait on the row the first one updated and then see its result;
SQLite writers take the write lock when they begin. The unique constraints of the ledger make a
month's top-up, an order's spend and an order's return happen once, whatever runs twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.db import insert_row, insert_unless_exists, utcnow
from huiju.errors import InputError, NotFoundError
from huiju.i18n import _
from huiju.models import CreditAccount, CreditEntry, CreditKind, Entitlement, Order, Resident
from huiju.services.actors import Actor
from huiju.services.o2o.access import OVERSEERS, beneficiaries

ENTITLEMENTS = cast(Table, Entitlement.__table__)
ACCOUNTS = cast(Table, CreditAccount.__table__)
#: How many times a spend re-reads a balance that changed under it before it gives up.
SPEND_ATTEMPTS = 20


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def current_month() -> str:
    return month_of(utcnow().astimezone(CHINA).date())


def parse_month(text: str) -> tuple[int, int]:
    """``2026-11`` → (2026, 11); InputError for anything else."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        date(year, month, 1)
    except (ValueError, TypeError) as exc:
        raise InputError(_("'{month}' is not a month such as 2026-11", month=text), field="month") from exc
    return year, month


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def account(session: Session, resident_id: int) -> CreditAccount:
    """The resident's account, opened (at zero) on first use."""
    found = session.scalars(select(CreditAccount).where(CreditAccount.resident_id == resident_id)).one_or_none()
    if found is None:
        found = CreditAccount(resident_id=resident_id, balance_fen=0, updated_at=utcnow())
        session.add(found)
        session.flush()
    return found


def balance(session: Session, resident_id: int) -> int:
    value = session.scalar(select(CreditAccount.balance_fen).where(CreditAccount.resident_id == resident_id))
    return int(value or 0)


def _add_to_account(session: Session, resident_id: int, amount: int) -> tuple[int, int]:
    """Add ``amount`` fen to the resident's account, opened if they have none: (its id, the new
    balance). An existing account takes it in one statement."""
    added = _update_balance(session, "resident_id", resident_id, amount)
    if added is None:
        added = _update_balance(session, "id", account(session, resident_id).id, amount)
    assert added is not None  # noqa: S101 - adding never fails the condition
    return added


def _change(session: Session, account_id: int, delta: int) -> int | None:
    """Add ``delta`` fen (negative: take) unless the balance would go below zero; the new balance,
    or None when there was not enough."""
    changed = _update_balance(session, "id", account_id, delta)
    return changed[1] if changed is not None else None


def _update_balance(session: Session, by: str, key: int, delta: int) -> tuple[int, int] | None:
    """Add ``delta`` fen to the account whose column ``by`` (``id`` or ``resident_id``) is ``key``,
    in one statement, unless a take (negative) would bring it below zero: (its id, the new balance),
    or None when nothing was changed."""
    statement = _BALANCE_UPDATES[by, delta < 0]
    params = {"key": key, "delta": delta, "needed": -delta, "now": utcnow()}
    row = session.connection().execute(statement, params).one_or_none()
    return (int(row[0]), int(row[1])) if row is not None else None


def _balance_update(by: str, take: bool) -> Any:
    stmt = update(ACCOUNTS).where(ACCOUNTS.c[by] == bindparam("key"))
    if take:
        stmt = stmt.where(ACCOUNTS.c.balance_fen >= bindparam("needed"))
    return stmt.values(balance_fen=ACCOUNTS.c.balance_fen + bindparam("delta"), updated_at=bindparam("now")).returning(
        ACCOUNTS.c.id, ACCOUNTS.c.balance_fen
    )


#: The balance's updates, built once: by account or by resident, adding or taking.
_BALANCE_UPDATES = {(by, take): _balance_update(by, take) for by in ("id", "resident_id") for take in (False, True)}


# -- entitlements and top-ups ------------------------------------------------------------------------


def grant(
    session: Session,
    case_id: int,
    resident_id: int,
    *,
    monthly_fen: int,
    tier: str,
    decided_on: date,
    months: int,
    by: str,
) -> int | None:
    """The entitlement of an approved subsidy case, and the credit of its first month; once per case
    (the entitlement is inserted unless the case has one, in one statement): its id, or None."""
    if monthly_fen <= 0:
        return None  # an approval without an amount grants nothing
    entitlement_id = insert_unless_exists(
        session, ENTITLEMENTS, ENTITLEMENTS.c.case_id, resident_id=resident_id, case_id=case_id, tier=tier,
        monthly_fen=monthly_fen, valid_from=decided_on, note="",
        valid_until=add_months(decided_on, months) - timedelta(days=1), granted_at=utcnow(),
    )  # fmt: skip
    if entitlement_id is not None:
        _top_up(session, entitlement_id, resident_id, monthly_fen, month_of(decided_on), by, fresh=True)
    return entitlement_id


def _top_up(
    session: Session,
    entitlement_id: int,
    resident_id: int,
    monthly_fen: int,
    period: str,
    by: str,
    *,
    fresh: bool = False,
) -> CreditEntry | None:
    """An entitlement's credit for ``period``, unless given already (``fresh``: the entitlement was
    made in this transaction, so nothing was)."""
    if not fresh:
        done = session.scalars(
            select(CreditEntry.id).where(CreditEntry.entitlement_id == entitlement_id, CreditEntry.period == period)
        ).first()
        if done is not None:
            return None
    account_id, new = _add_to_account(session, resident_id, monthly_fen)
    entry = CreditEntry(account_id=account_id, kind=CreditKind.TOP_UP, amount_fen=monthly_fen,
                        balance_after=new, entitlement_id=entitlement_id, period=period, by=by)  # fmt: skip
    return insert_row(session, entry)


def top_up_month(session: Session, month: str, by: str = "system") -> list[CreditEntry]:
    """Give every entitlement that covers ``month`` (YYYY-MM) its credit for it, unless given already."""
    year, number = parse_month(month)
    first = date(year, number, 1)
    last = add_months(first, 1) - timedelta(days=1)
    entitlements = session.scalars(
        select(Entitlement).where(Entitlement.valid_from <= last, Entitlement.valid_until >= first)
        .order_by(Entitlement.id)
    ).all()  # fmt: skip
    period = f"{year:04d}-{number:02d}"
    entries = [_top_up(session, e.id, e.resident_id, e.monthly_fen, period, by) for e in entitlements]
    return [e for e in entries if e is not None]


# -- orders -----------------------------------------------------------------------------------------------


def spend(session: Session, order: Order, want_fen: int, by: str) -> int:
    """Take up to ``want_fen`` from the beneficiary's credit for ``order``: what was taken (maybe 0).

    The balance is read, then taken with a conditional update; if another order took some meanwhile,
    it is read again, so that each order takes what is really there and never more.
    """
    if want_fen <= 0:
        return 0
    acct = session.scalars(select(CreditAccount).where(CreditAccount.resident_id == order.beneficiary_id)).first()
    if acct is None:
        return 0  # no subsidy has ever granted them credit
    for _attempt in range(SPEND_ATTEMPTS):
        available = session.scalar(
            select(CreditAccount.balance_fen).where(CreditAccount.id == acct.id)
            .execution_options(populate_existing=True)
        )  # fmt: skip
        amount = min(int(available or 0), want_fen)
        if amount <= 0:
            return 0
        new = _change(session, acct.id, -amount)
        if new is None:
            continue  # spent by another order between the read and the update: read again
        session.add(CreditEntry(account_id=acct.id, kind=CreditKind.SPEND, amount_fen=-amount, balance_after=new,
                                order_id=order.id, by=by))  # fmt: skip
        session.flush()
        return amount
    return 0  # the balance kept moving: the order is paid in full by the payment platform instead


def give_back(session: Session, order: Order, by: str) -> int:
    """Return what ``order`` spent (a cancellation), once: the amount returned."""
    spent = session.scalars(
        select(CreditEntry).where(CreditEntry.order_id == order.id, CreditEntry.kind == CreditKind.SPEND)
    ).one_or_none()
    if spent is None:
        return 0
    returned = session.scalars(
        select(CreditEntry.id).where(CreditEntry.order_id == order.id, CreditEntry.kind == CreditKind.RETURN)
    ).first()
    if returned is not None:
        return 0
    amount = -spent.amount_fen
    new = _change(session, spent.account_id, amount)
    assert new is not None  # noqa: S101 - adding never fails the condition
    session.add(CreditEntry(account_id=spent.account_id, kind=CreditKind.RETURN, amount_fen=amount,
                            balance_after=new, order_id=order.id, by=by))  # fmt: skip
    session.flush()
    return amount


# -- reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """A resident's credit (服务券明细): the balance, what grants it, and every entry, newest first."""

    resident: Resident
    balance_fen: int
    entitlements: list[Entitlement]
    entries: list[CreditEntry]

    @property
    def ledger_fen(self) -> int:
        return sum(e.amount_fen for e in self.entries)


def statement(session: Session, actor: Actor, resident_id: int) -> Statement:
    """The statement of a resident the actor may see: themselves, a linked parent; the operator any."""
    if actor.role not in OVERSEERS and resident_id not in {r.id for r in beneficiaries(session, actor)}:
        raise NotFoundError(_("no credit account to show"))
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise NotFoundError(_("no credit account to show"))
    acct = session.scalars(select(CreditAccount).where(CreditAccount.resident_id == resident_id)).one_or_none()
    entries = (
        list(session.scalars(select(CreditEntry).where(CreditEntry.account_id == acct.id)
                             .order_by(CreditEntry.id.desc())))
        if acct is not None else []
    )  # fmt: skip
    entitlements = list(
        session.scalars(select(Entitlement).where(Entitlement.resident_id == resident_id).order_by(Entitlement.id))
    )
    return Statement(resident, acct.balance_fen if acct else 0, entitlements, entries)


def ledger_total(session: Session, resident_id: int) -> int:
    """The sum of a resident's ledger entries: always equal to the balance."""
    value = session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount_fen), 0))
        .join(CreditAccount, CreditAccount.id == CreditEntry.account_id)
        .where(CreditAccount.resident_id == resident_id)
    )  # fmt: skip
    return int(value or 0)
