"""Delivery of outbox messages through the adapters, with a lease, retries and a budget.

``deliver`` is safe to run twice for the same message, concurrently or after a crash: a lease on
the row lets one attempt at a time through, and a retry carries the same message id, which the
receiver uses to act once. Transient failures wait with exponential backoff and jitter until the
adapter's attempt budget is spent; permanent failures and an exhausted budget park the message as
dead. The row's changes are :mod:`exchange.outbox`'s; nothing here touches a workflow (the worker
job in :mod:`workflows_bpmn.tasks` records an attempt and settles it in one transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from adapters import client as adapter_client
from adapters.signing import Exchanged
from certs.errors import CertificateError
from exchange import outbox
from exchange.log import Direction, Kind, MessageLogEntry, Outcome, SignatureStatus, append_all, entry_of
from exchange.models import MessageStatus
from exchange.outbox import LEASE_MARGIN_SECONDS, Claimed, backoff, claim
from exchange.security import ExchangeSecurity
from huiju.db import Database
from huiju.errors import AdapterError, HuijuError, InputError, PermanentAdapterError

__all__ = ["LEASE_MARGIN_SECONDS", "Attempt", "Caller", "Claimed", "attempt", "backoff", "claim", "deliver",
           "log_attempt", "log_exchange", "record", "record_in", "send"]  # fmt: skip

log = logging.getLogger(__name__)

Caller = Callable[..., dict[str, Any]]


@dataclass
class Attempt:
    """What one call brought back: the reply or the error, and what went over the wire."""

    reply: dict[str, Any] | None = None
    error: HuijuError | None = None
    exchanged: list[Exchanged] = field(default_factory=list)

    @property
    def transient(self) -> bool:
        return isinstance(self.error, AdapterError) and self.error.transient


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


def attempt(
    claimed: Claimed, *, caller: Caller = adapter_client.call, security: Callable[[], ExchangeSecurity] | None = None
) -> Attempt:
    """Make the call of a claimed message (outside any transaction); failures are returned, not raised."""
    result = Attempt()
    try:
        result.reply = send(caller, claimed, security, result.exchanged)
    except (AdapterError, InputError) as exc:
        result.error = exc
    return result


def record_in(session: Session, claimed: Claimed, result: Attempt, *, settled: bool = False) -> MessageStatus | None:
    """Store an attempt's outcome in the caller's transaction (see :func:`exchange.outbox.record`)."""
    error = result.error.message if result.error is not None else None
    return outbox.record(session, claimed, result.reply, error, transient=result.transient, settled=settled)


def log_attempt(session: Session, claimed: Claimed, result: Attempt) -> None:
    """What went over the wire goes to the message log, whoever holds the lease (append it last:
    the chain stays locked until the transaction ends)."""
    append_all(session, [e for exchanged in result.exchanged for e in log_entries(claimed, exchanged, result.error)])


def record(
    db: Database,
    claimed: Claimed,
    reply: dict[str, Any] | None,
    error: HuijuError | None,
    exchanged: list[Exchanged] | None = None,
) -> MessageStatus | None:
    """Record an attempt in a transaction of its own; the message's status afterwards (that of the
    attempt which took over, if this one lost its lease)."""
    result = Attempt(reply, error, list(exchanged or []))
    with db.transaction() as session:
        status = record_in(session, claimed, result)
        if status is None:
            status = outbox.status_of(session, claimed.message_id)
        log_attempt(session, claimed, result)
        return status


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
    result = attempt(claimed, caller=caller, security=security)
    return record(db, claimed, result.reply, result.error, result.exchanged)


_REPLY_SIGNATURE = {
    "verified": SignatureStatus.VALID,
    "refused": SignatureStatus.INVALID,
    "not-checked": SignatureStatus.NOT_CHECKED,
}


def log_exchange(session: Session, claimed: Claimed, exchanged: Exchanged, error: HuijuError | None) -> None:
    """Two entries per attempt: the signed request out, and what came back (or did not)."""
    append_all(session, log_entries(claimed, exchanged, error))


def log_entries(claimed: Claimed, exchanged: Exchanged, error: HuijuError | None) -> list[MessageLogEntry]:
    system, operation = claimed.settings.system, claimed.operation

    def entry(
        direction: Direction, kind: Kind, outcome: Outcome, envelope: bytes | None, status: SignatureStatus,
        verification: str | None, related: str | None = None, failure: str | None = None,
    ) -> MessageLogEntry:  # fmt: skip
        return entry_of(
            direction=direction, kind=kind, outcome=outcome, message_id=claimed.message_id,
            related_message_id=related, system=system, operation=operation, client="huiju",
            service=f"{system}.{operation}", user_id=claimed.user_id, case_number=claimed.case_number,
            envelope=envelope, signature_status=status, verification=verification,
            attempt=claimed.attempt, error=failure,
        )  # fmt: skip

    request = entry(
        Direction.OUT,
        Kind.REQUEST,
        Outcome.SENT,
        exchanged.request,
        SignatureStatus.VALID if exchanged.signed else SignatureStatus.ABSENT,
        f"request hash {exchanged.request_hash}",
    )
    if error is None:
        outcome = Outcome.DELIVERED
    elif isinstance(error, AdapterError) and error.transient:
        outcome = Outcome.TRANSIENT_FAILURE
    else:
        outcome = Outcome.PERMANENT_FAILURE
    status = (
        SignatureStatus.ABSENT if exchanged.reply is None
        else _REPLY_SIGNATURE.get(exchanged.reply_signature, SignatureStatus.NOT_CHECKED)
    )  # fmt: skip
    detail = exchanged.reply_error or (f"signed by {exchanged.signer_subject}" if exchanged.signer_subject else None)
    reply = entry(Direction.IN, Kind.REPLY, outcome, exchanged.reply, status, detail, related=claimed.message_id,
                  failure=error.message if error is not None else None)  # fmt: skip
    return [request, reply]
