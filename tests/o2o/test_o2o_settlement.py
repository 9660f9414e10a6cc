"""The monthly settlement: per provider, signed with Huiju's key, published once, exported."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from o2o_support import OPERATOR, SECOND, SON, answer, link_son, order, place
from openpyxl import load_workbook
from sqlalchemy import func, select

from certs.store import active_certificate
from exchange.models import OutboxMessage
from huiju.calendar import CHINA
from huiju.db import utcnow
from huiju.errors import InputError
from huiju.models import Settlement, SettlementStatus
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.materials import UploadStore
from huiju.services.o2o import dispatch, exports, orders, settlement
from tests.support.canned import deliver_replies


def serve(runtime: Runtime, number: str, provider: str) -> None:
    answer(runtime, provider, number)
    with runtime.db.transaction() as session:
        dispatch.arrive(session, runtime.engine, load_actor(session, provider), number)
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        store = UploadStore.from_settings(runtime.settings)
        dispatch.finish(session, runtime.engine, store, load_actor(session, provider), number, "已送达")
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        orders.confirm_order(session, runtime.engine, load_actor(session, SON), number)
    deliver_replies(runtime)


def published_count(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.operation == "data_exchange.publish_record")) or 0)  # fmt: skip


def test_a_month_is_settled_per_provider_signed_published_once_and_exported(runtime: Runtime, pki: Path) -> None:
    link_son(runtime)
    numbers = [place(runtime, "LS-MEAL", quantity=2), place(runtime, "LS-MEAL", quantity=3)]
    deliver_replies(runtime)
    for number in numbers:
        serve(runtime, number, SECOND)
    month = utcnow().astimezone(CHINA).strftime("%Y-%m")
    _start, end = settlement.month_bounds(month)
    security = runtime.security
    assert security is not None
    signer = lambda: security().signer  # noqa: E731 - the service asks for it when it has something to sign
    with runtime.db.transaction() as session, pytest.raises(InputError, match="has not ended"):
        settlement.settle_month(session, runtime.engine, load_actor(session, OPERATOR), month, signer)
    with runtime.db.transaction() as session:
        report = settlement.settle_month(session, runtime.engine, load_actor(session, OPERATOR), month, signer,
                                         now=end + timedelta(hours=1))  # fmt: skip
        assert [s.provider.code for s in report.created] == ["LESHAN"] and not report.already
        row = report.created[0]
        assert (row.orders, row.total_fen, row.credit_fen, row.cash_fen) == (2, 7500, 7500, 0)
        assert (row.fee_fen, row.payable_fen) == (375, 7125)  # 5 % of ¥75
        record = dict(row.record)
    certificate = x509.load_pem_x509_certificate(
        (pki / active_certificate(pki, "huiju", "signing").cert_file).read_bytes()
    )
    assert settlement.verify_record(record, certificate)
    assert not settlement.verify_record({**record, "payable_fen": 7500}, certificate)
    deliver_replies(runtime)  # the worker publishes it to the data exchange platform
    with runtime.db.sessions() as session:
        row = session.scalars(select(Settlement)).one()
        assert row.status is SettlementStatus.PUBLISHED and row.record_id
        (params,) = [m.params for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.operation == "data_exchange.publish_record"))]  # fmt: skip
        assert params["dataset"] == "o2o_settlement" and params["record"]["signature"] == record["signature"]
    with runtime.db.transaction() as session:  # exactly once: a second run publishes nothing
        again = settlement.settle_month(session, runtime.engine, load_actor(session, OPERATOR), month, signer,
                                        now=end + timedelta(days=3))  # fmt: skip
        assert again.already and not again.created
    deliver_replies(runtime)
    assert published_count(runtime) == 1
    assert all(order(runtime, n).settlement_id == row.id for n in numbers)
    with runtime.db.sessions() as session:
        rows = settlement.settlements(session, load_actor(session, OPERATOR), month)
        text = exports.to_csv(session, rows).decode("utf-8-sig")
        table = list(csv.reader(io.StringIO(text)))
        assert table[0][:3] == ["月份", "结算单号", "服务商编号"]
        assert table[1][2:10] == ["LESHAN", "乐膳社区老年助餐", "2", "75.00", "75.00", "0.00", "3.75", "71.25"]
        book = load_workbook(io.BytesIO(exports.to_xlsx(session, rows)))
        assert book.sheetnames == ["结算单", "订单"]
        assert [c.value for c in book["结算单"][2]][5] == 75 and book["订单"].max_row == 3
        confirmed = [row[3].value for row in book["订单"].iter_rows(min_row=2)]
        assert confirmed and all(str(value).endswith("+08:00") for value in confirmed)  # Beijing time


def test_only_the_operator_settles(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(Exception, match="only the platform operator"):
        settlement.settle_month(session, runtime.engine, load_actor(session, SON), "2020-01", None)
