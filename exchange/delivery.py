"""Delivery of outbox messages through the adapters, with a lease, retries and a budget.

``deliver`` is safe to run twice for the same message, concurrently or after a crash: a lease on
the row lets one attempt at a time through, and a retry carries the same message id, which the
receiver uses to act once. Transient failures wait with exponential backoff and jitter until the
adapter's attempt budget is spent; permanent failures and an exhausted budget park the message as
dead. Nothing here touches a workflow: the engine settles delivered and dead messages.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from adapters import client as adapter_client
from adapters.config import AdapterSettings, get_config
from adapters.signing import Exchanged
from certs.errors import CertificateError
from exchange.log import Direction, Kind, Outcome, SignatureStatus
from exchange.log import append as log_append
from exchange.models import MessageStatus, OutboxMessage
from exchange.security import ExchangeSecurity
from huiju.db import Database, utcnow
from huiju.errors import AdapterError, HuijuError, InputError, PermanentAdapterError

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
LEASE_MARGIN_SECONDS = 5.0
Caller = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Claimed:
    message_id: str
    operation: str
    params: dict[str, Any]
    user_id: str
    case_number: str | None
    attempt: int
    settings: AdapterSettings


def claim(db: Database, message_id: str, lease_seconds: float) -> Claimed | None:
    """Take the lease on a pending message, or return None if it is not ours to send now.

    The lease outlasts the adapter's own timeouts, so that a slow but living attempt is not
    overtaken. A message whose attempts are spent without an answer (workers lost mid-call) is
    parked as dead here, so that it cannot circle for ever.
    """
    now = utcnow()
    with db.transaction() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.message_id == message_id)
        if not db.is_sqlite:  # SQLite: the write transaction already holds the database lock
            stmt = stmt.with_for_update()
        message = session.scalars(stmt).one_or_none()
        if message is None or message.status is not MessageStatus.PENDING:
            return None
        if message.locked_until is not None and message.locked_until >= now:
            return None  # another attempt holds it
        if message.attempts > 0 and message.next_attempt_at > now:
            return None  # a retry waits out its backoff, even if a duplicate job asks early
        settings = get_config(session, message.system).snapshot()
        if message.attempts >= settings.max_attempts:
            message.status = MessageStatus.DEAD
            message.locked_until = None
            message.last_error = f"no answer after {message.attempts} attempt(s)"
            message.last_error_transient = True
            log.warning("message %s is dead: %s", message_id, message.last_error)
            return None
        lease = max(lease_seconds, settings.connect_timeout + settings.operation_timeout + LEASE_MARGIN_SECONDS)
        message.locked_until = now + timedelta(seconds=lease)
        message.attempts += 1
        return Claimed(
            message_id=message.message_id,
            operation=message.operation,
            params=dict(message.params),
            user_id=message.user_id,
            case_number=message.case_number,
            attempt=message.attempts,
            settings=settings,
        )


def backoff(settings: AdapterSettings, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter between half and one and a half times the step."""
    base: float = min(settings.backoff_seconds * (2 ** max(attempt - 1, 0)), MAX_BACKOFF_SECONDS)
    return base * (0.5 + (rng or random).random())  # noqa: S311 - jitter, not cryptography


def send(
    caller: Caller,
    claimed: Claimed,
    security: Callable[[], ExchangeSecurity] | None,
    exchanged: list[Exchanged],
) -> dict[str, Any]:
    """One call of ``claimed`` with the current keys; what went over the wire is added to ``exchanged``.

    A missing or revoked signing key is a permanent failure: nothing can be sent.
    """
    try:
        keys: dict[str, Any] = {}
        if security is not None:
            current = security()
            tls = current.client_tls(claimed.settings.client_certificate)
            keys = {"signer": current.signer, "trust": current.trust, "tls": tls, "exchange_record": exchanged}
        return caller(
            claimed.operation, claimed.params, settings=claimed.settings, message_id=claimed.message_id,
            user_id=claimed.user_id, case_number=claimed.case_number, **keys,
        )  # fmt: skip
    except CertificateError as exc:
        raise PermanentAdapterError(exc.text, **exc.details) from exc


def deliver(
    db: Database,
    message_id: str,
    *,
    lease_seconds: float,
    caller: Caller = adapter_client.call,
    security: Callable[[], ExchangeSecurity] | None = None,
) -> MessageStatus | None:
    """Send one message if it is due and not leased; store the reply or the failure.

    With ``security`` the request is signed and only a signed, trusted reply to that exact request
    is accepted; every request sent and every reply received goes to the message log.
    Returns the message's status afterwards, or None when another attempt holds it or it is no
    longer pending.
    """
    claimed = claim(db, message_id, lease_seconds)
    if claimed is None:
        return None
    reply: dict[str, Any] | None = None
    error: HuijuError | None = None
    exchanged: list[Exchanged] = []
    try:
        reply = send(caller, claimed, security, exchanged)
    except (AdapterError, InputError) as exc:
        error = exc
    return _record(db, claimed, reply, error, exchanged)


def _record(
    db: Database,
    claimed: Claimed,
    reply: dict[str, Any] | None,
    error: HuijuError | None,
    exchanged: list[Exchanged] | None = None,
) -> MessageStatus:
    now = utcnow()
    with db.transaction() as session:
        stmt = select(OutboxMessage).where(OutboxMessage.message_id == claimed.message_id)
        if not db.is_sqlite:
            stmt = stmt.with_for_update()
        message = session.scalars(stmt).one()
        for record in exchanged or []:  # what went over the wire is logged, whoever holds the lease
            log_exchange(session, claimed, record, error)
        if message.status is not MessageStatus.PENDING or message.attempts != claimed.attempt:
            # Our lease ran out and a later attempt took over (it carries the same message id,
            # so the receiver answers it alike): what that attempt records stands.
            log.warning(
                "message %s attempt %s finished after losing its lease; its outcome is dropped",
                claimed.message_id,
                claimed.attempt,
            )
            return message.status
        message.locked_until = None
        if error is None:
            message.status = MessageStatus.DELIVERED
            message.reply = reply
            message.delivered_at = now
            message.last_error = None
            return message.status
        transient = isinstance(error, AdapterError) and error.transient
        message.last_error = error.message
        message.last_error_transient = transient
        if transient and claimed.attempt < claimed.settings.max_attempts:
            delay = backoff(claimed.settings, claimed.attempt)
            message.next_attempt_at = now + timedelta(seconds=delay)
            log.info(
                "message %s attempt %s failed (%s); next in %.1fs",
                claimed.message_id,
                claimed.attempt,
                error.message,
                delay,
            )
        else:
            message.status = MessageStatus.DEAD
            log.warning(
                "message %s is dead after %s attempt(s): %s", claimed.message_id, claimed.attempt, error.message
            )
        return message.status


_REPLY_SIGNATURE = {
    "verified": SignatureStatus.VALID,
    "refused": SignatureStatus.INVALID,
    "not-checked": SignatureStatus.NOT_CHECKED,
}


def log_exchange(session: Session, claimed: Claimed, record: Exchanged, error: HuijuError | None) -> None:
    """Two entries per attempt: the signed request out, and what came back (or did not)."""
    system, operation = claimed.settings.system, claimed.operation

    def put(
        direction: Direction, kind: Kind, outcome: Outcome, envelope: bytes | None, status: SignatureStatus,
        verification: str | None, related: str | None = None, failure: str | None = None,
    ) -> None:  # fmt: skip
        log_append(
            session, direction=direction, kind=kind, outcome=outcome, message_id=claimed.message_id,
            related_message_id=related, system=system, operation=operation, client="huiju",
            service=f"{system}.{operation}", user_id=claimed.user_id, case_number=claimed.case_number,
            envelope=envelope, signature_status=status, verification=verification,
            attempt=claimed.attempt, error=failure,
        )  # fmt: skip

    put(
        Direction.OUT,
        Kind.REQUEST,
        Outcome.SENT,
        record.request,
        SignatureStatus.VALID if record.signed else SignatureStatus.ABSENT,
        f"request hash {record.request_hash}",
    )
    if error is None:
        outcome = Outcome.DELIVERED
    elif isinstance(error, AdapterError) and error.transient:
        outcome = Outcome.TRANSIENT_FAILURE
    else:
        outcome = Outcome.PERMANENT_FAILURE
    status = (
        SignatureStatus.ABSENT if record.reply is None
        else _REPLY_SIGNATURE.get(record.reply_signature, SignatureStatus.NOT_CHECKED)
    )  # fmt: skip
    detail = record.reply_error or (f"signed by {record.signer_subject}" if record.signer_subject else None)
    put(Direction.IN, Kind.REPLY, outcome, record.reply, status, detail, related=claimed.message_id,
        failure=error.message if error is not None else None)  # fmt: skip


def due_messages(db: Database, *, redispatch_after: float = 5.0, limit: int = 100) -> list[str]:
    """Pending messages whose time has come, that no attempt holds and no recent job will send.

    Marks them dispatched, so that a sweep running every second does not queue the same message
    again while its job waits in the broker.
    """
    now = utcnow()
    with db.transaction() as session:
        ids = list(
            session.scalars(
                select(OutboxMessage.message_id)
                .where(
                    OutboxMessage.status == MessageStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                    or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
                    or_(
                        OutboxMessage.dispatched_at.is_(None),
                        OutboxMessage.dispatched_at < now - timedelta(seconds=redispatch_after),
                        OutboxMessage.dispatched_at < OutboxMessage.next_attempt_at,
                    ),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
        if ids:
            session.execute(update(OutboxMessage).where(OutboxMessage.message_id.in_(ids)).values(dispatched_at=now))
        return ids
