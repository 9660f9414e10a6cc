"""Worker jobs that join a delivery to the step it resumes, and the periodic sweep.

The functions here are plain (tests call them directly); :func:`register` binds them to a Celery
app as the tasks ``huiju.deliver`` and ``huiju.sweep``. Tasks take ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from exchange import delivery
from exchange.models import MessageStatus
from huiju.db import Database, utcnow
from huiju.errors import ConflictError
from workflows_bpmn.models import InstanceStatus, ProcessInstance
from workflows_bpmn.runner import Engine

log = logging.getLogger(__name__)
STEP_ATTEMPTS = 3


class Runtime(Protocol):
    db: Database
    engine: Engine

    @property
    def lease_seconds(self) -> float: ...


@dataclass
class SweepReport:
    sent: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    woken: list[int] = field(default_factory=list)


def settle_message(db: Database, engine: Engine, message_id: str) -> None:
    """Feed a reply or a failure into its workflow, retrying a step that lost an optimistic race."""
    for attempt in range(1, STEP_ATTEMPTS + 1):
        try:
            with db.transaction() as session:
                engine.settle(session, message_id)
            return
        except (StaleDataError, ConflictError):
            if attempt == STEP_ATTEMPTS:
                raise
            log.info("settling %s raced with another step; again (%s)", message_id, attempt)


def process_message(runtime: Runtime, message_id: str) -> MessageStatus | None:
    status = delivery.deliver(runtime.db, message_id, lease_seconds=runtime.lease_seconds)
    if status in (MessageStatus.DELIVERED, MessageStatus.DEAD):
        settle_message(runtime.db, runtime.engine, message_id)
    return status


def due_timer_instances(db: Database, limit: int = 100) -> list[int]:
    with db.sessions() as session:
        return list(
            session.scalars(
                select(ProcessInstance.id)
                .where(
                    ProcessInstance.status == InstanceStatus.RUNNING,
                    ProcessInstance.next_timer_due <= utcnow(),
                )
                .order_by(ProcessInstance.next_timer_due)
                .limit(limit)
            )
        )


def sweep(runtime: Runtime, dispatch: Callable[[list[str]], None]) -> SweepReport:
    """Find what a lost broker message, a killed worker or a due timer left waiting, and move it."""
    report = SweepReport()
    report.sent = delivery.due_messages(runtime.db)
    if report.sent:
        dispatch(report.sent)
    for message_id in delivery.unsettled_messages(runtime.db):
        settle_message(runtime.db, runtime.engine, message_id)
        report.settled.append(message_id)
    for instance_id in due_timer_instances(runtime.db):
        with runtime.db.transaction() as session:
            if runtime.engine.wake_timers(session, instance_id) is not None:
                report.woken.append(instance_id)
    return report


def register(celery: Any, runtime: Callable[[], Runtime]) -> None:
    """Bind the jobs to a Celery app; ``runtime`` builds (once per process) what they need."""

    def dispatch(message_ids: list[str]) -> None:
        for message_id in message_ids:
            deliver_task.delay(message_id)

    @celery.task(name="huiju.deliver", acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def deliver_task(message_id: str) -> None:
        process_message(runtime(), message_id)

    @celery.task(name="huiju.sweep", ignore_result=True)  # type: ignore[untyped-decorator]
    def sweep_task() -> None:
        report = sweep(runtime(), dispatch)
        if report.sent or report.settled or report.woken:
            log.info("sweep: sent %s, settled %s, woke %s", report.sent, report.settled, report.woken)
