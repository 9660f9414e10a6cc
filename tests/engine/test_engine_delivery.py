"""Delivery of outbox messages to the real sandbox over SOAP: retries, budget, lease."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select, update

from adapters.config import AdapterConfig
from adapters.sandbox.server import SandboxServer
from exchange import delivery, outbox
from exchange.models import MessageStatus, OutboxMessage
from huiju.db import utcnow
from huiju.runtime import Runtime
from workflows_bpmn.tasks import unsettled_messages


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def inject(control: requests.Session, sandbox: SandboxServer, mode: str, count: int = 1) -> None:
    response = control.post(
        f"{sandbox.url}/_sandbox/faults", json={"operation": "SendSms", "mode": mode, "count": count}, timeout=5
    )
    assert response.status_code == 201, response.text


def configure_sms(rt: Runtime, *, max_attempts: int, backoff_seconds: float) -> None:
    with rt.db.transaction() as session:
        row = session.scalars(select(AdapterConfig).where(AdapterConfig.system == "sms")).one()
        row.max_attempts, row.backoff_seconds = max_attempts, backoff_seconds


def new_message(rt: Runtime) -> str:
    message_id = str(uuid.uuid4())
    with rt.db.transaction() as session:
        session.add(
            OutboxMessage(
                message_id=message_id,
                operation="sms.send_sms",
                system="sms",
                params={"phone": "13800138000", "template": "CASE_REFUSED",
                        "params": {"case_number": "HJ2026030200001", "reason": "测试"}},
                user_id="tester",
                case_number="HJ2026030200001",
                reply_to={},
                status=MessageStatus.PENDING,
                next_attempt_at=utcnow(),
            )
        )  # fmt: skip
    return message_id


def row(rt: Runtime, message_id: str) -> OutboxMessage:
    with rt.db.sessions() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()


def journal(control: requests.Session, sandbox: SandboxServer, message_id: str) -> list[dict[str, object]]:
    response = control.get(f"{sandbox.url}/_sandbox/journal", params={"message_id": message_id}, timeout=5)
    result: list[dict[str, object]] = response.json()
    return result


def test_delivered(rt: Runtime, sandbox: SandboxServer, control: requests.Session) -> None:
    message_id = new_message(rt)
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is MessageStatus.DELIVERED
    message = row(rt, message_id)
    assert (message.attempts, message.locked_until, message.last_error) == (1, None, None)
    assert message.reply is not None and message.reply["accepted"] is True
    assert [e["received_count"] for e in journal(control, sandbox, message_id)] == [1]
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is None  # no longer pending


def make_due(rt: Runtime, message_id: str) -> None:
    """As if the backoff had passed."""
    with rt.db.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.message_id == message_id).values(next_attempt_at=utcnow())
        )


def test_transient_fault_backs_off_then_goes_through(
    rt: Runtime, sandbox: SandboxServer, control: requests.Session
) -> None:
    configure_sms(rt, max_attempts=3, backoff_seconds=4.0)
    message_id = new_message(rt)
    inject(control, sandbox, "server_fault")
    before = utcnow()
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is MessageStatus.PENDING
    after = utcnow()
    message = row(rt, message_id)
    assert message.attempts == 1 and message.locked_until is None
    assert message.last_error_transient is True and message.last_error
    # Attempt 1 waits the base step with jitter: between 0.5 and 1.5 times 4 s from the recording.
    assert before.timestamp() + 2.0 <= message.next_attempt_at.timestamp() <= after.timestamp() + 6.0
    assert message_id not in outbox.lost_jobs(rt.db, queued=lambda: 0)
    # Asked again before its backoff has passed (a duplicate broker message): it waits.
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is None
    assert row(rt, message_id).attempts == 1

    make_due(rt, message_id)
    inject(control, sandbox, "http_500")
    before = utcnow()
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is MessageStatus.PENDING
    after = utcnow()
    message = row(rt, message_id)
    assert message.attempts == 2
    assert before.timestamp() + 4.0 <= message.next_attempt_at.timestamp() <= after.timestamp() + 12.0

    make_due(rt, message_id)
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is MessageStatus.DELIVERED
    assert row(rt, message_id).attempts == 3
    assert [e["received_count"] for e in journal(control, sandbox, message_id)] == [1]


def test_budget_spent_makes_it_dead(rt: Runtime, sandbox: SandboxServer, control: requests.Session) -> None:
    configure_sms(rt, max_attempts=2, backoff_seconds=0.01)
    message_id = new_message(rt)
    inject(control, sandbox, "server_fault", count=5)
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is MessageStatus.PENDING
    make_due(rt, message_id)
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is MessageStatus.DEAD
    message = row(rt, message_id)
    assert (message.status, message.attempts, message.last_error_transient) == (MessageStatus.DEAD, 2, True)
    assert message.settled_at is None
    assert message_id in [m for m, _i in unsettled_messages(rt.db)]
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is None


def test_permanent_fault_is_dead_at_once(rt: Runtime, sandbox: SandboxServer, control: requests.Session) -> None:
    configure_sms(rt, max_attempts=5, backoff_seconds=0.01)
    message_id = new_message(rt)
    inject(control, sandbox, "client_fault")
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is MessageStatus.DEAD
    message = row(rt, message_id)
    assert (message.attempts, message.last_error_transient) == (1, False)
    assert journal(control, sandbox, message_id) == []  # refused before the receiver acted


def test_a_leased_message_is_claimed_once(rt: Runtime) -> None:
    message_id = new_message(rt)
    first = delivery.claim(rt.db, message_id, lease_seconds=30)
    assert first is not None and first.attempt == 1 and first.settings.system == "sms"
    assert delivery.claim(rt.db, message_id, lease_seconds=30) is None
    assert delivery.deliver(rt.db, message_id, lease_seconds=30) is None
    message = row(rt, message_id)
    assert message.attempts == 1 and message.locked_until is not None
    assert message_id not in outbox.lost_jobs(rt.db, queued=lambda: 0)
