"""Case numbers (办件编号) come from a per-day counter row: submissions racing each other on PostgreSQL
each get their own number, none fails, and a day starts again at 1. The same statement reserves the
id of the case's process instance, so the case is written pointing to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from engine_support import APPLICANT, FORM, ITEM
from freezegun import freeze_time
from sqlalchemy import select

from adapters.sandbox.people import ZHANG_XIUYING
from adapters.sandbox.server import SandboxServer
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.calendar import CHINA
from huiju.models import Case, CaseNumberCounter, Org
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.documents import next_number
from huiju.settings import load_settings
from tests.support.servers import PostgresServer
from workflows_bpmn.models import ProcessInstance

RACERS = 8


def submit(rt: Runtime) -> str:
    with rt.db.transaction() as session:
        case = submit_case(session, rt.engine, load_actor(session, APPLICANT), ITEM, ZHANG_XIUYING, dict(FORM))
        return case.number


def assert_each_case_has_its_own_instance(rt: Runtime, count: int) -> None:
    """Every case points to the instance that was started for it, and no two share one."""
    with rt.db.sessions() as session:
        pairs = session.execute(
            select(Case.id, ProcessInstance.context).join(
                ProcessInstance, ProcessInstance.id == Case.process_instance_id
            )
        ).all()
    assert len(pairs) == count
    assert all(context["case_id"] == case_id for case_id, context in pairs)


def together(count: int, work: Callable[[threading.Barrier], str]) -> list[str]:
    """``count`` calls of ``work``, each in a thread of its own, released together by the barrier
    they are given; what they return (none may fail)."""
    start = threading.Barrier(count)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            numbers.append(work(start))
        except BaseException as exc:  # noqa: BLE001 - collected, the test shows them
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return numbers


def race(rt: Runtime, count: int) -> list[str]:
    """``count`` submissions started together, each in its own thread and transaction."""

    def one(start: threading.Barrier) -> str:
        start.wait()
        return submit(rt)

    return together(count, one)


@pytest.fixture(scope="module")
def postgres_rt(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Iterator[Runtime]:
    with PostgresServer() as server:
        folder: Path = tmp_path_factory.mktemp("pg-instance")
        settings = load_settings(instance_path=folder, env="test", exchange_signing=False, database_url=server.url)
        rt = build_runtime(settings, with_celery=False)
        rt.db.create_all()
        with rt.db.transaction() as session:
            seed_all(session, sandbox.url)
        yield rt
        rt.db.dispose()


def test_submissions_racing_on_postgresql_each_get_a_number_of_their_own(postgres_rt: Runtime) -> None:
    with freeze_time(datetime(2026, 12, 7, 2, 0, tzinfo=UTC)):  # 10:00 in China
        numbers = race(postgres_rt, RACERS)
    assert sorted(numbers) == [f"HJ20261207{n:05d}" for n in range(1, RACERS + 1)]
    with postgres_rt.db.sessions() as session:
        assert session.get(CaseNumberCounter, "20261207").last == RACERS  # type: ignore[union-attr]
    assert_each_case_has_its_own_instance(postgres_rt, RACERS)


def test_numbers_count_per_china_day_and_a_rolled_back_submission_gives_its_number_back(rt: Runtime) -> None:
    with freeze_time(datetime(2026, 12, 7, 15, 59, tzinfo=UTC)):  # 23:59 in China
        assert submit(rt) == "HJ2026120700001"
        with pytest.raises(RuntimeError), rt.db.transaction() as session:
            submit_case(session, rt.engine, load_actor(session, APPLICANT), ITEM, ZHANG_XIUYING, dict(FORM))
            raise RuntimeError("the request failed after the number was drawn")
        assert submit(rt) == "HJ2026120700002"
    with freeze_time(datetime(2026, 12, 7, 16, 1, tzinfo=UTC)):  # 00:01 the next day in China
        assert submit(rt) == "HJ2026120800001"
    with freeze_time(datetime(2026, 12, 8, 2, 0, tzinfo=UTC)):
        assert race(rt, 4) and len(set(race(rt, 3))) == 3
    with rt.db.sessions() as session:
        numbers = session.scalars(select(Case.number).order_by(Case.number)).all()
    assert len(numbers) == len(set(numbers)) == 10
    assert_each_case_has_its_own_instance(rt, 10)


def test_documents_issued_at_once_on_postgresql_each_get_a_number_of_their_own(postgres_rt: Runtime) -> None:
    """Decisions of one street office issued together (the extranet's callbacks come in parallel)
    draw their 文号 from the series' counter row: no two share one, and none fails."""

    def one(start: threading.Barrier) -> str:
        with postgres_rt.db.transaction() as session:
            office = session.scalars(select(Org).where(Org.name == "望京街道")).one()
            start.wait()
            number = next_number(session, office, "approval_decision")
            time.sleep(0.05)  # the transaction stays open while the others draw theirs
            return number

    numbers = together(RACERS, one)
    year = datetime.now(CHINA).year
    assert sorted(numbers) == [f"望京街道〔{year}〕准字第{n:05d}号" for n in range(1, RACERS + 1)]
