"""A message is queued once: the sweep hands a message to the broker again only when its job or its
lease was lost, or its retry came due — never because it waited long in a busy queue."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from adapters.config import ensure_defaults
from exchange import outbox
from exchange.models import MessageStatus, OutboxMessage
from exchange.outbox import BLIND_JOB_TIMEOUT_SECONDS, BUSY_JOB_TIMEOUT_SECONDS, JOB_GRACE_SECONDS
from huiju.db import Database, utcnow

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def queue(depth: int | None) -> Callable[[], int | None]:
    return lambda: depth


def queued_message(db: Database) -> str:
    """A pending message as a step leaves it: dispatched (its job handed to the broker) now."""
    message_id = str(uuid.uuid4())
    with db.transaction() as session:
        ensure_defaults(session, "http://127.0.0.1:9")  # the budgets claim reads; rows kept if there
        outbox.enqueue(
            session,
            [
                OutboxMessage(
                    message_id=message_id, operation="sms.send_sms", system="sms", user_id="tester",
                    params={"phone": "13800138000", "template": "CASE_RECEIVED", "params": {}}, case_number=None,
                    reply_to={}, process_instance_id=None, status=MessageStatus.PENDING, next_attempt_at=utcnow(),
                    dispatched_at=utcnow(),
                )
            ],
        )  # fmt: skip
    return message_id


def test_a_message_waiting_in_a_busy_queue_is_not_queued_again(sqlite_db: Database) -> None:
    with freeze_time(T0) as clock:
        message_id = queued_message(sqlite_db)
        clock.tick(timedelta(seconds=BUSY_JOB_TIMEOUT_SECONDS - 1))  # a long backlog: its job is in it
        assert outbox.lost_jobs(sqlite_db, queued=queue(1600)) == []
        # The queue has drained and no attempt took it: its job was lost (a broker that lost it,
        # a worker killed after taking it); it is queued once more, and not again at once.
        assert outbox.lost_jobs(sqlite_db, queued=queue(0)) == [message_id]
        assert outbox.lost_jobs(sqlite_db, queued=queue(0)) == []
        clock.tick(timedelta(seconds=JOB_GRACE_SECONDS - 1))
        assert outbox.lost_jobs(sqlite_db, queued=queue(0)) == []  # its new job may be on its way
        clock.tick(timedelta(seconds=2))
        assert outbox.lost_jobs(sqlite_db, queued=queue(0)) == [message_id]


def test_without_a_view_of_the_queue_a_job_is_taken_as_lost_only_after_a_long_while(sqlite_db: Database) -> None:
    with freeze_time(T0) as clock:
        message_id = queued_message(sqlite_db)
        clock.tick(timedelta(seconds=BLIND_JOB_TIMEOUT_SECONDS - 1))
        assert outbox.lost_jobs(sqlite_db, queued=queue(None)) == []
        clock.tick(timedelta(seconds=2))
        assert outbox.lost_jobs(sqlite_db, queued=queue(None)) == [message_id]


def test_a_lost_lease_is_queued_once_even_with_a_busy_queue(sqlite_db: Database) -> None:
    with freeze_time(T0) as clock:
        message_id = queued_message(sqlite_db)
        claimed = outbox.claim(sqlite_db, message_id, lease_seconds=30)
        assert claimed is not None
        clock.tick(timedelta(seconds=20))
        assert outbox.lost_jobs(sqlite_db, queued=queue(0)) == []  # an attempt holds it
        with sqlite_db.sessions() as session:
            locked_until = session.scalars(
                select(OutboxMessage.locked_until).where(OutboxMessage.message_id == message_id)
            ).one()
        assert locked_until is not None
        clock.move_to(locked_until + timedelta(seconds=1))  # the worker died mid-call
        assert outbox.lost_jobs(sqlite_db, queued=queue(50)) == [message_id]
        assert outbox.lost_jobs(sqlite_db, queued=queue(50)) == []
        again = outbox.claim(sqlite_db, message_id, lease_seconds=30)
        assert again is not None and again.attempt == 2


def test_a_retry_comes_due_and_is_queued_once(sqlite_db: Database) -> None:
    with freeze_time(T0) as clock:
        message_id = queued_message(sqlite_db)
        claimed = outbox.claim(sqlite_db, message_id, lease_seconds=30)
        assert claimed is not None
        with sqlite_db.transaction() as session:
            status = outbox.record(session, claimed, None, "busy", transient=True)
        assert status is MessageStatus.PENDING
        assert outbox.lost_jobs(sqlite_db, queued=queue(0)) == []  # waiting out its backoff
        clock.tick(timedelta(minutes=10))
        assert outbox.lost_jobs(sqlite_db, queued=queue(7)) == [message_id]
        assert outbox.lost_jobs(sqlite_db, queued=queue(7)) == []


def test_messages_that_are_not_pending_are_never_queued(sqlite_db: Database) -> None:
    with freeze_time(T0) as clock:
        delivered, cancelled = queued_message(sqlite_db), queued_message(sqlite_db)
        claimed = outbox.claim(sqlite_db, delivered, lease_seconds=30)
        assert claimed is not None
        with sqlite_db.transaction() as session:
            outbox.record(session, claimed, {"sms_id": "S1", "accepted": True}, None)
            assert outbox.cancel(session, [cancelled, delivered]) == [cancelled]
        clock.tick(timedelta(hours=1))
        assert outbox.lost_jobs(sqlite_db, queued=queue(0)) == []


def test_a_queue_that_never_empties_does_not_hold_a_lost_job_back_for_ever(sqlite_db: Database) -> None:
    with freeze_time(T0) as clock:
        message_id = queued_message(sqlite_db)
        clock.tick(timedelta(seconds=BUSY_JOB_TIMEOUT_SECONDS + 1))
        assert outbox.lost_jobs(sqlite_db, queued=queue(40)) == [message_id]
        assert outbox.lost_jobs(sqlite_db, queued=queue(40)) == []
