"""Worker jobs that join a delivery to the step it resumes, and the periodic sweep.

A delivery job leases its message and makes the call outside any transaction; then, in one write
transaction, it locks the instance waiting for the reply, records the reply (or the failure),
takes it into the workflow and logs what went over the wire: the reply is never recorded without
being taken, nor taken twice. The sweep queues only what lost its job or its lease (see
:mod:`exchange.outbox`), settles what a killed worker left recorded but untaken, and wakes timers.

The functions here are plain (tests call them directly); :func:`register` binds them to a Celery
app as the tasks ``huiju.deliver`` and ``huiju.sweep``. Tasks take ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm.exc import StaleDataError

from exchange import delivery, outbox
from exchange.models import MessageStatus, OutboxMessage
from exchange.outbox import FINAL, Claimed, Recorded, Settled
from exchange.security import ExchangeSecurity
from huiju.db import Database, utcnow
from huiju.errors import ConflictError, HuijuError
from workflows_bpmn.models import InstanceStatus, ProcessInstance
from workflows_bpmn.runner import Engine, Step

log = logging.getLogger(__name__)
STEP_ATTEMPTS = 3


class Runtime(Protocol):
    db: Database
    engine: Engine
    security: Callable[[], ExchangeSecurity] | None

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
    """Deliver one message and take its outcome into its workflow; its status afterwards, or None
    when it was not ours to send (leased by another attempt, waiting out a backoff, not pending)."""
    claimed = outbox.claim(runtime.db, message_id, runtime.lease_seconds)
    if claimed is None:
        return None
    attempt = delivery.attempt(claimed, security=runtime.security)
    try:
        return record_and_settle(runtime.db, runtime.engine, claimed, attempt)
    except Exception:
        # The step could not take it (a model error, a lost race): the reply is recorded on its
        # own, so that nothing the receiver did is lost, and taken by the retries below or the sweep.
        log.warning("taking the outcome of %s failed; it is recorded alone", message_id, exc_info=True)
        status = delivery.record(runtime.db, claimed, attempt.reply, attempt.error, attempt.exchanged)
        if status in FINAL:
            settle_message(runtime.db, runtime.engine, message_id)
        return status


def record_and_settle(
    db: Database, engine: Engine, claimed: Claimed, attempt: delivery.Attempt
) -> MessageStatus | None:
    """One write transaction: lock the waiting instance, record the attempt, take a final outcome
    into the workflow, log the exchange (last: the log's chain is locked until commit).

    On PostgreSQL the instance's row lock comes first, as in every step. A SQLite write transaction
    holds the whole database from its first statement, so there the attempt is recorded first and
    the instance's lock version it reads back lets the step skip its read when its workflow is cached.
    """
    with db.transaction() as session:
        instance_id = claimed.process_instance_id
        if instance_id is None:  # no step waits for it (a notice's SMS): settled as it is recorded
            status = delivery.record_in(session, claimed, attempt, settled=True)
        elif db.is_sqlite:
            recorded = delivery.record_outcome(session, claimed, attempt, settled=True)
            with engine.step(session, instance_id, version=recorded.instance_version) as step:
                _take(engine, step, claimed, attempt, recorded)
            status = recorded.status
        else:
            with engine.step(session, instance_id) as step:
                recorded = delivery.record_outcome(session, claimed, attempt, settled=True)
                _take(engine, step, claimed, attempt, recorded)
            status = recorded.status
        if status is None:  # the attempt lost its lease: the one that took over stands
            status = outbox.status_of(session, claimed.message_id)
        delivery.log_attempt(session, claimed, attempt)
        return status


def _take(engine: Engine, step: Step, claimed: Claimed, attempt: delivery.Attempt, recorded: Recorded) -> None:
    step.result.callbacks_held = recorded.callbacks_held
    if recorded.status in FINAL:
        error = attempt.error.message if attempt.error is not None else None
        engine.take(step, Settled(claimed.message_id, recorded.status, claimed.operation, claimed.settings.system,
                                  claimed.reply_to, attempt.reply, error))  # fmt: skip


def unsettled_messages(db: Database, limit: int = 100) -> list[tuple[str, int | None]]:
    """Delivered or dead messages whose outcome their instance has not taken yet.

    Instances in incident are left alone until an officer retries them, suspended ones until an
    administrator resumes them.
    """
    with db.sessions() as session:
        rows = session.execute(
            select(OutboxMessage.message_id, OutboxMessage.process_instance_id)
            .outerjoin(ProcessInstance, ProcessInstance.id == OutboxMessage.process_instance_id)
            .where(
                OutboxMessage.settled_at.is_(None),
                OutboxMessage.status.in_([MessageStatus.DELIVERED, MessageStatus.DEAD]),
                or_(
                    ProcessInstance.id.is_(None),
                    ProcessInstance.status.not_in([InstanceStatus.INCIDENT, InstanceStatus.SUSPENDED]),
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [(message_id, instance_id) for message_id, instance_id in rows]


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


def sweep(
    runtime: Runtime, dispatch: Callable[[list[str]], None], queued: Callable[[], int | None] | None = None
) -> SweepReport:
    """Find what a lost broker job, a killed worker or a due timer left waiting, and move it.

    ``queued`` tells how many jobs wait in the broker (see :func:`exchange.outbox.lost_jobs`).
    One instance whose step fails (a model error, a value the model cannot take) is put in
    incident and the sweep goes on: it must never hold up the timers and replies of the others.
    """
    report = SweepReport()
    report.sent = outbox.lost_jobs(runtime.db, queued=queued)
    if report.sent:
        dispatch(report.sent)
    for message_id, instance_id in unsettled_messages(runtime.db):
        if _guarded(runtime, instance_id, partial(_settle, runtime, message_id)):
            report.settled.append(message_id)
    for instance_id in due_timer_instances(runtime.db):
        if _guarded(runtime, instance_id, partial(_wake, runtime, instance_id)):
            report.woken.append(instance_id)
    return report


def _settle(runtime: Runtime, message_id: str) -> bool:
    settle_message(runtime.db, runtime.engine, message_id)
    return True


def _wake(runtime: Runtime, instance_id: int) -> bool:
    """True when a timer fired (a wake-up that finds nothing due is not reported)."""
    with runtime.db.transaction() as session:
        return runtime.engine.wake_timers(session, instance_id) is not None


def _guarded(runtime: Runtime, instance_id: int | None, step: Callable[[], bool]) -> bool:
    try:
        return step()
    except Exception as exc:
        log.exception("step of process instance %s failed; it goes to incident", instance_id)
        if instance_id is not None:
            detail = exc.message if isinstance(exc, HuijuError) else f"{type(exc).__name__}: {exc}"
            with runtime.db.transaction() as session:
                runtime.engine.mark_incident(session, instance_id, detail)
        return False


def register(celery: Any, runtime: Callable[[], Runtime]) -> None:
    """Bind the jobs to a Celery app; ``runtime`` builds (once per process) what they need."""

    def dispatch(message_ids: list[str]) -> None:
        for message_id in message_ids:
            deliver_task.delay(message_id)

    def queued() -> int | None:
        """Jobs waiting in the broker's default queue (Redis, the filesystem broker), or None."""
        try:
            with celery.connection_for_read() as connection:
                declared = connection.default_channel.queue_declare(queue=celery.conf.task_default_queue, passive=True)
                return int(declared.message_count)
        except Exception:  # a broker that cannot tell: the sweep waits longer before re-queueing
            log.debug("the broker's queue depth is unknown", exc_info=True)
            return None

    @celery.task(name="huiju.deliver", shared=False, acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def deliver_task(message_id: str) -> None:
        process_message(runtime(), message_id)

    @celery.task(name="huiju.sweep", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def sweep_task() -> None:
        report = sweep(runtime(), dispatch, queued)
        if report.sent or report.settled or report.woken:
            log.info("sweep: sent %s, settled %s, woke %s", report.sent, report.settled, report.woken)
