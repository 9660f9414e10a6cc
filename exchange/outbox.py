"""The outbox's state changes (发件箱), all in one place.

A message's life, as a job in Camunda's job executor::

    enqueue ─► pending ─claim─► leased ─record─► delivered ─settle─► taken by its step
                 ▲   │                 │    └──► pending again (transient failure, after a backoff)
                 │   └─cancel─► cancelled      └──► dead ─settle─► taken (boundary error or incident)
                 ├──────────── requeue (an officer retries a dead message) ◄──────┘
                 └─hold─► held ─release─► pending   (the case suspended by an administrator, resumed)

A message held while an attempt is on the wire loses that attempt's outcome (its recording finds
the message no longer pending): it is sent again on release with the same id, and the receiver,
which acts once per id, answers alike.

Every function here is one statement on the outbox table in the caller's transaction, except
:func:`claim` (its own transaction: the lease must be committed before the network call) and
:func:`lost_jobs` (the sweep's). The row, not the broker, is the truth; the broker only makes
delivery prompt. So the sweep hands a message to the broker again only when its job is known lost:
its lease ran out with no outcome recorded (the worker died mid-call), its retry came due (the job
that failed it has ended), or no job for it can be left (the broker's queue is empty and no worker
holds it). A message waiting in a long queue is not queued twice (unless the queue has not emptied
for ten minutes: a lost job must not wait for ever).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, column, exists, func, insert, or_, select, table, update
from sqlalchemy.orm import Session

from adapters.config import AdapterSettings, get_config
from exchange.correlation import CallbackRecord, CallbackState
from exchange.models import MessageStatus, OutboxMessage
from huiju.db import Database, utcnow

log = logging.getLogger(__name__)

T = cast(Table, OutboxMessage.__table__)
MAX_BACKOFF_SECONDS = 300.0
LEASE_MARGIN_SECONDS = 5.0
#: How long after it was queued a job may still be on its way to a worker (commit, broker, fetch).
JOB_GRACE_SECONDS = 5.0
#: Without a view of the broker's queue, a job unclaimed for this long is taken as lost.
BLIND_JOB_TIMEOUT_SECONDS = 120.0
#: While the broker still holds jobs, a job unclaimed for this long is taken as lost all the same: a
#: queue that never empties must not hold a lost job back for ever (a duplicate job is harmless:
#: the lease lets one attempt through).
BUSY_JOB_TIMEOUT_SECONDS = 600.0
FINAL = (MessageStatus.DELIVERED, MessageStatus.DEAD)


@dataclass(frozen=True)
class Claimed:
    """A message leased to one delivery attempt, with what the attempt and its recording need."""

    message_id: str
    operation: str
    params: dict[str, Any]
    user_id: str
    case_number: str | None
    attempt: int
    settings: AdapterSettings
    process_instance_id: int | None = None
    reply_to: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """What recording an attempt did: the message's new status (None: the attempt had lost its
    lease), and what the statement read back for the step that takes it."""

    status: MessageStatus | None
    #: The lock version of the waiting instance (None: no instance, or the lease was lost).
    instance_version: int | None = None
    #: Whether callbacks of the message's case are held (None: not known).
    callbacks_held: bool | None = None


@dataclass(frozen=True)
class Settled:
    """The outcome of a message as its step takes it: the reply, or the failure."""

    message_id: str
    status: MessageStatus
    operation: str
    system: str
    reply_to: dict[str, Any]
    reply: dict[str, Any] | None = None
    last_error: str | None = None


# Statements built once: building one costs more than running it (its cache key, its compilation).
_ENQUEUE = insert(T)
_CANCEL = (
    update(T)
    .where(T.c.message_id.in_(bindparam("ids", expanding=True)), T.c.status == MessageStatus.PENDING)
    .values(status=MessageStatus.CANCELLED, settled_at=bindparam("now"))
    .returning(T.c.message_id)
)
_SETTLE = (
    update(T)
    .where(T.c.message_id == bindparam("mid"), T.c.settled_at.is_(None), T.c.status.in_(FINAL))
    .values(settled_at=bindparam("now"))
    .returning(T.c.status, T.c.operation, T.c.system, T.c.reply_to, T.c.reply, T.c.last_error)
)
_INSTANCE_OF = select(T.c.process_instance_id, T.c.reply_to).where(T.c.message_id == bindparam("mid"))
_ATTEMPT = (T.c.message_id == bindparam("mid"), T.c.status == MessageStatus.PENDING, T.c.attempts == bindparam("n"))
# What recording an attempt reads back in the same statement, for the step that takes it: the
# waiting instance's lock version, and whether callbacks of the case are held (exchange.correlation).
_INSTANCE = table("process_instance", column("id"), column("lock_version"))
_RECORDED = (
    select(_INSTANCE.c.lock_version).where(_INSTANCE.c.id == T.c.process_instance_id).scalar_subquery(),
    exists().where(CallbackRecord.state == CallbackState.HELD, CallbackRecord.case_number == T.c.case_number),
)
_RECORD_REPLY = (
    update(T)
    .where(*_ATTEMPT)
    .values(
        status=MessageStatus.DELIVERED,
        reply=bindparam("new_reply"),
        delivered_at=bindparam("now"),
        last_error=None,
        locked_until=None,
        settled_at=bindparam("settled"),
    )  # fmt: skip
    .returning(*_RECORDED)
)
_RECORD_FAILURE = (
    update(T)
    .where(*_ATTEMPT)
    .values(
        status=bindparam("new_status"),
        last_error=bindparam("error"),
        last_error_transient=bindparam("transient"),
        next_attempt_at=func.coalesce(bindparam("next", type_=T.c.next_attempt_at.type), T.c.next_attempt_at),
        locked_until=None,
        settled_at=bindparam("settled"),
    )  # fmt: skip
    .returning(*_RECORDED)
)


# -- written by engine steps ----------------------------------------------------------------------


def enqueue(session: Session, messages: Sequence[OutboxMessage]) -> None:
    """Insert the messages a step asked for, in one statement (``messages`` are not added to the
    session: they stay plain records of what was queued)."""
    if not messages:
        return
    now = utcnow()
    rows = [
        {
            "message_id": m.message_id, "operation": m.operation, "system": m.system, "params": m.params,
            "user_id": m.user_id, "case_number": m.case_number, "reply_to": m.reply_to,
            "process_instance_id": m.process_instance_id, "status": m.status, "attempts": 0,
            "next_attempt_at": m.next_attempt_at or now, "dispatched_at": m.dispatched_at,
            "last_error": m.last_error, "last_error_transient": m.last_error_transient, "created_at": now,
        }
        for m in messages
    ]  # fmt: skip
    session.connection().execute(_ENQUEUE, rows)


def cancel(session: Session, message_ids: Iterable[str]) -> list[str]:
    """Pending messages whose step no longer waits are not sent; returns those it cancelled."""
    ids = list(message_ids)
    if not ids:
        return []
    return list(session.connection().execute(_CANCEL, {"ids": ids, "now": utcnow()}).scalars())


def pending_of_tasks(session: Session, instance_id: int, task_ids: Iterable[str]) -> dict[str, str]:
    """{task id: message id} of the pending messages of an instance's tasks (state written before
    the tasks carried their message ids)."""
    wanted = set(task_ids)
    rows = session.execute(
        select(T.c.message_id, T.c.reply_to).where(
            T.c.process_instance_id == instance_id, T.c.status == MessageStatus.PENDING
        )
    )
    return {r.reply_to.get("task_id"): r.message_id for r in rows if r.reply_to.get("task_id") in wanted}


def dead_of(session: Session, instance_id: int, message_id: str | None = None) -> list[tuple[str, str]]:
    """(message id, task id) of an instance's dead messages, or only of ``message_id``."""
    stmt = select(T.c.message_id, T.c.reply_to).where(
        T.c.status == MessageStatus.DEAD, T.c.process_instance_id == instance_id
    )
    if message_id is not None:
        stmt = stmt.where(T.c.message_id == message_id)
    return [(r.message_id, str(r.reply_to.get("task_id"))) for r in session.execute(stmt.order_by(T.c.id))]


def requeue(session: Session, message_ids: Iterable[str]) -> list[str]:
    """Dead messages sent again, same ids, with a fresh budget; returns those requeued."""
    ids = list(message_ids)
    if not ids:
        return []
    now = utcnow()
    stmt = (
        update(T)
        .where(T.c.message_id.in_(ids), T.c.status == MessageStatus.DEAD)
        .values(
            status=MessageStatus.PENDING,
            settled_at=None,
            attempts=0,
            next_attempt_at=now,
            dispatched_at=now,
            locked_until=None,
        )  # fmt: skip
        .returning(T.c.message_id)
    )
    return list(session.scalars(stmt))


def hold(session: Session, instance_id: int) -> list[str]:
    """The pending messages of a suspended instance are not sent until :func:`release`."""
    stmt = (
        update(T)
        .where(T.c.process_instance_id == instance_id, T.c.status == MessageStatus.PENDING)
        .values(status=MessageStatus.HELD, locked_until=None)
        .returning(T.c.message_id)
    )
    return sorted(session.scalars(stmt))


def release(session: Session, instance_id: int) -> list[str]:
    """The held messages of a resumed instance, pending again at once (to be handed to the broker
    after commit, marked dispatched now); returns their ids."""
    now = utcnow()
    stmt = (
        update(T)
        .where(T.c.process_instance_id == instance_id, T.c.status == MessageStatus.HELD)
        .values(status=MessageStatus.PENDING, next_attempt_at=now, dispatched_at=now, locked_until=None)
        .returning(T.c.message_id)
    )
    return sorted(session.scalars(stmt))


def settle(session: Session, message_id: str) -> Settled | None:
    """Mark a delivered or dead message taken by its step and return its outcome; None if it is
    still pending, or taken already (by a twin job)."""
    row = session.connection().execute(_SETTLE, {"mid": message_id, "now": utcnow()}).first()
    if row is None:
        return None
    return Settled(message_id, row.status, row.operation, row.system, row.reply_to or {}, row.reply, row.last_error)


def instance_of(session: Session, message_id: str) -> int | None:
    """The process instance a message replies to; raises LookupError for an unknown message."""
    row = session.connection().execute(_INSTANCE_OF, {"mid": message_id}).first()
    if row is None:
        raise LookupError(message_id)
    found = row.process_instance_id or (row.reply_to or {}).get("instance_id")
    return int(found) if found is not None else None


# -- written by delivery ------------------------------------------------------------------------


def claim(db: Database, message_id: str, lease_seconds: float) -> Claimed | None:
    """Take the lease on a pending message, or return None if it is not ours to send now.

    The lease outlasts the adapter's own timeouts, so that a slow but living attempt is not
    overtaken. A message whose attempts are spent without an answer (workers lost mid-call) is
    parked as dead here, so that it cannot circle for ever.
    """
    now = utcnow()
    with db.transaction() as session:
        stmt = select(T).where(T.c.message_id == message_id)
        if not db.is_sqlite:  # SQLite: the write transaction already holds the database lock
            stmt = stmt.with_for_update()
        message = session.execute(stmt).first()
        if message is None or message.status is not MessageStatus.PENDING:
            return None
        if message.locked_until is not None and message.locked_until >= now:
            return None  # another attempt holds it
        if message.attempts > 0 and message.next_attempt_at > now:
            return None  # a retry waits out its backoff, even if a duplicate job asks early
        settings = get_config(session, message.system).snapshot()
        where = T.c.message_id == message_id
        if message.attempts >= settings.max_attempts:
            error = f"no answer after {message.attempts} attempt(s)"
            session.execute(
                update(T)
                .where(where)
                .values(status=MessageStatus.DEAD, locked_until=None, last_error=error, last_error_transient=True)
            )
            log.warning("message %s is dead: %s", message_id, error)
            return None
        lease = max(lease_seconds, settings.connect_timeout + settings.operation_timeout + LEASE_MARGIN_SECONDS)
        session.execute(
            update(T).where(where).values(locked_until=now + timedelta(seconds=lease), attempts=message.attempts + 1)
        )
        return Claimed(
            message_id=message.message_id, operation=message.operation, params=dict(message.params),
            user_id=message.user_id, case_number=message.case_number, attempt=message.attempts + 1,
            settings=settings, process_instance_id=message.process_instance_id, reply_to=dict(message.reply_to or {}),
        )  # fmt: skip


def backoff(settings: AdapterSettings, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter between half and one and a half times the step."""
    base: float = min(settings.backoff_seconds * (2 ** max(attempt - 1, 0)), MAX_BACKOFF_SECONDS)
    return base * (0.5 + (rng or random).random())  # noqa: S311 - jitter, not cryptography


def record(
    session: Session,
    claimed: Claimed,
    reply: dict[str, Any] | None,
    error: str | None,
    *,
    transient: bool = False,
    settled: bool = False,
) -> MessageStatus | None:
    """Store what one attempt brought back: the reply, or the failure (retried after a backoff while
    transient and within the budget, else dead). With ``settled`` a final outcome is marked taken
    by its step at once (the caller's transaction takes it).

    Returns the new status, or None when the attempt lost its lease and a later one took over (it
    carries the same message id, so the receiver answered it alike): what that one records stands.
    """
    return record_outcome(session, claimed, reply, error, transient=transient, settled=settled).status


def record_outcome(
    session: Session,
    claimed: Claimed,
    reply: dict[str, Any] | None,
    error: str | None,
    *,
    transient: bool = False,
    settled: bool = False,
) -> Recorded:
    """:func:`record`, with what the statement read back (see :class:`Recorded`)."""
    now = utcnow()
    params: dict[str, Any] = {"mid": claimed.message_id, "n": claimed.attempt, "now": now, "settled": None}
    if error is None:
        status, stmt = MessageStatus.DELIVERED, _RECORD_REPLY
        params["new_reply"] = reply
    else:
        stmt = _RECORD_FAILURE
        params.update(error=error, transient=transient, next=None)
        if transient and claimed.attempt < claimed.settings.max_attempts:
            status = MessageStatus.PENDING
            delay = backoff(claimed.settings, claimed.attempt)
            params["next"] = now + timedelta(seconds=delay)
            log.info("message %s attempt %s failed (%s); next in %.1fs", claimed.message_id, claimed.attempt,
                     error, delay)  # fmt: skip
        else:
            status = MessageStatus.DEAD
            log.warning("message %s is dead after %s attempt(s): %s", claimed.message_id, claimed.attempt, error)
        params["new_status"] = status
    if settled and status in FINAL:
        params["settled"] = now
    row = session.connection().execute(stmt, params).first()
    if row is None:
        log.warning("message %s attempt %s finished after losing its lease; its outcome is dropped",
                    claimed.message_id, claimed.attempt)  # fmt: skip
        return Recorded(None)
    version, held = row
    return Recorded(status, version, bool(held))


def status_of(session: Session, message_id: str) -> MessageStatus | None:
    return session.scalar(select(T.c.status).where(T.c.message_id == message_id))


# -- the sweep ---------------------------------------------------------------------------------


def lost_jobs(db: Database, *, queued: Callable[[], int | None] | None = None, limit: int = 100) -> list[str]:
    """Pending messages that need a (new) broker job, marked dispatched now; see the module docstring.

    ``queued`` tells how many jobs wait in the broker's queue (None when it cannot tell): a message
    whose job was never picked up is taken as lost once the queue is empty (after
    :data:`JOB_GRACE_SECONDS`), blind after :data:`BLIND_JOB_TIMEOUT_SECONDS`, and behind a queue
    that does not empty after :data:`BUSY_JOB_TIMEOUT_SECONDS`.
    """
    now = utcnow()
    depth = queued() if queued is not None else None
    wait = JOB_GRACE_SECONDS if depth == 0 else BLIND_JOB_TIMEOUT_SECONDS if depth is None else BUSY_JOB_TIMEOUT_SECONDS
    unclaimed_since = now - timedelta(seconds=wait)
    lease_lost = and_(T.c.locked_until.is_not(None), T.c.locked_until < now, T.c.dispatched_at < T.c.locked_until)
    free = or_(T.c.locked_until.is_(None), T.c.locked_until < now)
    retry_due = and_(free, T.c.attempts > 0, T.c.dispatched_at < T.c.next_attempt_at)
    job_lost = and_(
        free,
        or_(T.c.attempts == 0, T.c.dispatched_at >= T.c.next_attempt_at),
        T.c.dispatched_at < unclaimed_since,
    )
    lost = [and_(free, T.c.dispatched_at.is_(None)), lease_lost, retry_due, job_lost]
    stmt = (
        select(T.c.message_id)
        .where(T.c.status == MessageStatus.PENDING, T.c.next_attempt_at <= now, or_(*lost))
        .order_by(T.c.id)
        .limit(limit)
    )
    with db.transaction() as session:
        if not db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.scalars(stmt))
        if ids:
            session.execute(update(T).where(T.c.message_id.in_(ids)).values(dispatched_at=now))
    return ids
