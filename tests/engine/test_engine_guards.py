"""Bad input leaves the database as it was; a stale writer fails instead of overwriting a newer step."""

from __future__ import annotations

from typing import Any

import pytest
from engine_support import OFFICER, OTHER_OFFICER, REVIEWER, CaseDriver, snapshot
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from huiju.errors import ConflictError, HuijuError, InputError, NotFoundError, PermissionDenied
from huiju.models import CaseStatus
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from workflows_bpmn.models import HumanTask, HumanTaskStatus, ProcessInstance


def unchanged(rt: Runtime, error: type[HuijuError], attempt: Any, match: str | None = None) -> None:
    with rt.db.sessions() as session:
        before = snapshot(session)
    with pytest.raises(error, match=match):
        attempt()
    with rt.db.sessions() as session:
        assert snapshot(session) == before


@pytest.fixture
def at_intake(rt: Runtime) -> CaseDriver:
    driver = CaseDriver(rt).submit()
    driver.settle_all()
    assert driver.status is CaseStatus.INTAKE
    return driver


def test_bad_decisions_change_nothing(rt: Runtime, at_intake: CaseDriver) -> None:
    task_id = at_intake.ready_task().id
    unchanged(rt, NotFoundError, lambda: at_intake.complete_id(task_id, OTHER_OFFICER, "accept"))
    unchanged(rt, NotFoundError, lambda: at_intake.complete_id(task_id, REVIEWER, "accept"))
    unchanged(rt, NotFoundError, lambda: at_intake.complete_id(task_id, "resident-zhang", "accept"))
    unchanged(rt, PermissionDenied, lambda: at_intake.complete_id(task_id, "admin", "accept"))
    unchanged(rt, InputError, lambda: at_intake.complete_id(task_id, OFFICER, "approve"), "not a decision")
    unchanged(rt, InputError, lambda: at_intake.complete_id(task_id, OFFICER, "refuse"), "needs 'reason'")
    unchanged(rt, InputError, lambda: at_intake.complete_id(task_id, OFFICER, "refuse", {"reason": ""}))
    unchanged(rt, InputError, lambda: at_intake.complete_id(task_id, OFFICER, "supplement"), "missing_materials")
    unchanged(rt, InputError, lambda: at_intake.complete_id(task_id, OFFICER, "supplement",
                                                            {"missing_materials": "户口簿"}))  # fmt: skip
    unchanged(rt, InputError, lambda: at_intake.complete_id(task_id, OFFICER, "accept", {"by": "someone"}))
    unchanged(rt, NotFoundError, lambda: at_intake.complete_id("0" * 36, OFFICER, "accept"))
    assert at_intake.ready_task().id == task_id


def test_completing_twice_is_a_conflict(rt: Runtime, at_intake: CaseDriver) -> None:
    task_id = at_intake.ready_task().id
    at_intake.complete(OFFICER, "accept")
    assert at_intake.status is CaseStatus.STREET_REVIEW
    unchanged(rt, ConflictError, lambda: at_intake.complete_id(task_id, OFFICER, "accept"), "already completed")
    unchanged(rt, ConflictError, lambda: at_intake.complete_id(task_id, OFFICER, "refuse", {"reason": "x"}))


def test_task_not_ready_in_its_process_is_a_conflict(rt: Runtime, at_intake: CaseDriver) -> None:
    """A mirrored row that says ready while the workflow moved on (e.g. restored from a backup)."""
    task_id = at_intake.ready_task().id
    at_intake.complete(OFFICER, "accept")
    with rt.db.transaction() as session:
        row = session.get(HumanTask, task_id)
        assert row is not None
        row.status = HumanTaskStatus.READY
    unchanged(rt, ConflictError, lambda: at_intake.complete_id(task_id, OFFICER, "accept"), "not ready")


def test_stale_writer_fails_and_writes_nothing(rt: Runtime, at_intake: CaseDriver) -> None:
    """Session B reads the instance, A commits a step, B's write based on the old row is refused.

    SQLite transactions here begin IMMEDIATE (the write lock at BEGIN), so B ends its reading
    transaction before A starts; the row stays loaded in B (``expire_on_commit=False``).
    """
    session_b = Session(rt.db.engine, expire_on_commit=False)  # a writer (read-only sessions refuse writes)
    try:
        with session_b.begin():
            stale = session_b.scalars(select(ProcessInstance).where(ProcessInstance.id == at_intake.instance_id)).one()
        old_version, old_state = stale.lock_version, stale.serialized

        at_intake.complete(OFFICER, "accept")  # session A: one engine step, committed
        after_a = at_intake.instance()
        assert after_a.lock_version == old_version + 1
        assert after_a.serialized != old_state

        with pytest.raises(StaleDataError), session_b.begin():
            stale.serialized = old_state
            stale.status = stale.status
            stale.outcome = "overwritten"
    finally:
        session_b.close()
    with rt.db.sessions() as session:
        now = session.get(ProcessInstance, at_intake.instance_id)
        assert now is not None
        assert (now.lock_version, now.serialized, now.outcome) == (after_a.lock_version, after_a.serialized, None)
    assert at_intake.status is CaseStatus.STREET_REVIEW
    at_intake.complete(REVIEWER, "approve")
    at_intake.settle_all()
    assert at_intake.case().outcome == "approved"


def test_engine_step_on_a_stale_session_is_refused(rt: Runtime, at_intake: CaseDriver) -> None:
    """Two officers' requests race: the engine step of the later commit fails on the version."""
    task_id = at_intake.ready_task().id
    session_b = Session(rt.db.engine, expire_on_commit=False)  # a writer (read-only sessions refuse writes)
    try:
        with session_b.begin():
            actor = load_actor(session_b, OFFICER)
            session_b.get(HumanTask, task_id)
            instance_b = session_b.get(ProcessInstance, at_intake.instance_id)
            assert instance_b is not None
        at_intake.complete(OFFICER, "refuse", {"reason": "户籍不在本社区"})
        # B's identity map still holds the old row; the runner's refresh must see A's step.
        with pytest.raises(ConflictError), session_b.begin():
            rt.engine.complete_task(session_b, task_id, actor.username, {"decision": "accept"})
    finally:
        session_b.close()
    assert [(t.step, t.decision) for t in at_intake.tasks(HumanTaskStatus.COMPLETED)] == [("intake", "refuse")]
