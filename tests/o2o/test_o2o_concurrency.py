"""Fifty orders spending the same credit at once never take it below zero and never lose a fen, on
PostgreSQL (concurrent transactions, row locks) and on SQLite (one writer at a time)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from o2o_support import MOTHER_ID, SON, SON_PHONE, link_son
from sqlalchemy import select

from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.calendar import WorkingCalendar
from huiju.db import utcnow
from huiju.models import CreditEntry, CreditKind, Order, Resident, Service, TimeSlot
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import on_step
from huiju.services.o2o import credit, orders
from huiju.services.o2o.lifecycle import listener
from huiju.settings import load_settings
from tests.support.servers import PostgresServer
from workflows_bpmn.definitions import SpecCache, latest_version
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.runner import Engine

ORDERS = 50
QUANTITIES = (1, 2, 3)  # ¥15 a meal: ¥1,500 asked for in all, ¥600 of credit to share


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        yield {}
        return
    with PostgresServer() as server:
        yield {"database_url": server.url}


@pytest.fixture
def shared(database: dict[str, Any], tmp_path: Path, pki: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test", certs_folder=pki, **database),
                       with_celery=False)  # fmt: skip
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9/")
    yield rt
    rt.db.dispose()


def own_engine(runtime: Runtime) -> Engine:
    """An engine per thread, as each web or worker process has its own, and one that has served
    before: the order process already parsed. (Fifty cold engines would each parse it while holding
    SQLite's write lock, and the last in the queue would wait longer than its busy timeout.)"""
    engine = Engine(cache=SpecCache(host_functions()), functions=lambda s: host_functions(lambda: WorkingCalendar.load(s)),
                    listeners=[on_step])  # fmt: skip
    engine.listeners.append(listener(engine))
    with runtime.db.sessions() as session:
        engine.cache.get_by_id(session, latest_version(session, orders.PROCESS)[0])
    return engine


def test_fifty_orders_at_once_share_the_credit_exactly(shared: Runtime) -> None:
    runtime = shared
    link_son(runtime)
    with runtime.db.transaction() as session:
        mother = session.scalars(select(Resident).where(Resident.id_number == MOTHER_ID)).one()
        service = session.scalars(select(Service).where(Service.code == "LS-MEAL")).one()
        start = utcnow() + timedelta(days=20)
        slots = [TimeSlot(service=service, starts_at=start + timedelta(hours=i), ends_at=start + timedelta(hours=i,
                          minutes=30), capacity=5, booked=0) for i in range(ORDERS)]  # fmt: skip
        session.add_all(slots)
        session.flush()
        slot_ids, mother_id = [s.id for s in slots], mother.id
        before = credit.balance(session, mother_id)
    assert before == 60000
    barrier = threading.Barrier(ORDERS)
    errors: list[BaseException] = []
    placed: list[str] = []
    lock = threading.Lock()

    def order_one(i: int) -> None:
        engine = own_engine(runtime)
        placement = orders.Placement(service_code="LS-MEAL", beneficiary_id=mother_id, slot_id=slot_ids[i],
                                     address="望京西园四区7号楼2单元302", quantity=QUANTITIES[i % 3],
                                     contact_phone=SON_PHONE)  # fmt: skip
        barrier.wait(timeout=60)
        try:
            with runtime.db.transaction() as session:
                number = orders.place_order(session, engine, load_actor(session, SON), placement).number
            with lock:
                placed.append(number)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=order_one, args=(i,)) for i in range(ORDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    assert len(placed) == ORDERS
    with runtime.db.sessions() as session:
        after = credit.balance(session, mother_id)
        found = session.scalars(select(Order).where(Order.number.in_(placed))).all()
        spent = sum(o.credit_fen for o in found)
        wanted = sum(o.total_fen for o in found)
        assert wanted > before  # more was asked for than there was
        assert after == 0  # all of it used, none of it twice
        assert before - after == spent  # no fen lost or made
        assert credit.ledger_total(session, mother_id) == after
        assert all(o.credit_fen + o.cash_fen == o.total_fen and o.credit_fen >= 0 and o.cash_fen >= 0 for o in found)
        assert sum(1 for o in found if 0 < o.credit_fen < o.total_fen) <= 1  # at most one order got the rest
        spends = session.scalars(select(CreditEntry).where(CreditEntry.kind == CreditKind.SPEND)).all()
        assert sorted(-e.amount_fen for e in spends) == sorted(o.credit_fen for o in found if o.credit_fen)
        assert min(e.balance_after for e in spends) == 0 and all(e.balance_after >= 0 for e in spends)
