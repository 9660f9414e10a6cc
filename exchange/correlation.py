"""Callbacks kept until they can be correlated (暂存回调), and the facts learnt by asking instead.

A government system may answer faster than Huiju records its own request's reply: the e-gov
extranet's signed decision can arrive before the SubmitCase receipt is stored (the worker died
after the extranet acted), an SMS delivery report before the SendSms reply. Such a callback is
verified, logged whole with its signature in the message log like any other, answered as
accepted — so the sender stops retrying — and *held* here; it is correlated the moment the
reply lands (or the step comes to wait for it), exactly once. X-Road keeps the evidence the same
way and Camunda correlates a message that arrives before its receive task is reached.

Every decision and delivery report gets one :class:`CallbackRecord`, whether it was applied at
once, held, or turned out to repeat a fact already known (the SMS platform restarted and reported
again under a new message id): that is how a fact reached twice is applied once. Facts learnt by
asking (QueryDelivery, when a report did not come in time) are recorded the same way, with
``source = query``; :class:`Reconciliation` counts the asking.

This module keeps the records; what a fact *means* for a case (which step waits for it) is
decided by the layers above, which register their handlers at start-up (:mod:`huiju.app.callbacks`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Index, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from huiju.db import Base, UTCDateTime, utcnow
from huiju.i18n import Message


def _values(members: type[enum.StrEnum]) -> list[str]:
    return [str(member.value) for member in members]


class CallbackKind(enum.StrEnum):
    DECISION = "decision"  # the extranet's decision on a reported case (NotifyDecision, or QueryCase)
    DELIVERY = "delivery"  # the SMS platform's delivery report (NotifyDelivery, or QueryDelivery)


class Source(enum.StrEnum):
    CALLBACK = "callback"  # the system called Huiju back
    QUERY = "query"  # Huiju asked, because the callback did not come in time (reconciliation)


class CallbackState(enum.StrEnum):
    HELD = "held"  # kept: the reply of the request it answers is not recorded yet, or no step waits yet
    APPLIED = "applied"  # handed to the step that waits for it, or put on the case's timeline
    DUPLICATE = "duplicate"  # the same fact had arrived already (another message id, or by asking)
    SUPERSEDED = "superseded"  # the case went on without it (decided otherwise, withdrawn, cancelled)
    MISMATCHED = "mismatched"  # the reply landed and names another receipt or SMS: kept as evidence only


#: States a record no longer leaves.
RESOLVED = frozenset({CallbackState.APPLIED, CallbackState.DUPLICATE, CallbackState.SUPERSEDED,
                      CallbackState.MISMATCHED})  # fmt: skip


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=_values)


class CallbackRecord(Base):
    """One decision or delivery report, however it came, and what became of it."""

    __tablename__ = "callback_record"
    __table_args__ = (
        Index("ix_callback_record_state", "state", "kind"),
        Index("ix_callback_record_subject", "kind", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The callback's exchange message id (as in the message log), or the id of the query that asked.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[CallbackKind] = mapped_column(_enum(CallbackKind))
    source: Mapped[Source] = mapped_column(_enum(Source))
    client: Mapped[str] = mapped_column(String(64))  # the system that told us
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    # What it answers: the case number for a decision, the SendSms message id for a delivery report.
    subject: Mapped[str] = mapped_column(String(64))
    # The other system's own reference: the receipt number, or the SMS id.
    reference: Mapped[str | None] = mapped_column(String(64))
    fact: Mapped[str] = mapped_column(String(16))  # approved / denied, delivered / failed
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[CallbackState] = mapped_column(_enum(CallbackState))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set when it had to be held
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)  # why it was held, superseded or mismatched (English)
    # The same, translatable: {"msgid", "params"} of a huiju.i18n.Message (see why()).
    reason: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def why(self) -> Message | None:
        """Why it was held, superseded or mismatched, in the reader's language (``.localize(locale)``)."""
        if not self.reason:
            return None
        return Message(str(self.reason["msgid"]), **dict(self.reason.get("params") or {}))


class Reconciliation(Base):
    """How often Huiju asked about one request whose callback did not come (QueryDelivery)."""

    __tablename__ = "reconciliation"
    __table_args__ = (Index("ix_reconciliation_subject", "kind", "subject", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CallbackKind] = mapped_column(_enum(CallbackKind))
    subject: Mapped[str] = mapped_column(String(64))  # the request asked about (SendSms message id)
    case_number: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    last_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the last answer
    settled: Mapped[bool] = mapped_column(default=False)  # the fact is known; nothing more to ask
    last_error: Mapped[str | None] = mapped_column(Text)


def record(
    session: Session,
    *,
    message_id: str,
    kind: CallbackKind,
    source: Source,
    client: str,
    case_number: str | None,
    subject: str,
    reference: str | None,
    fact: str,
    payload: dict[str, Any],
    state: CallbackState,
    why: Message | None = None,
) -> CallbackRecord:
    """Add a record in the caller's transaction (flushed, so that its id is known)."""
    now = utcnow()
    row = CallbackRecord(
        message_id=message_id, kind=kind, source=source, client=client, case_number=case_number,
        subject=subject, reference=reference, fact=fact, payload=payload, state=state, received_at=now,
        held_at=now if state is CallbackState.HELD else None,
        resolved_at=None if state is CallbackState.HELD else now,
    )  # fmt: skip
    _explain(row, why)
    session.add(row)
    session.flush()
    return row


def resolve(row: CallbackRecord, state: CallbackState, why: Message | None = None) -> None:
    """A held record leaves the hold: applied, a duplicate, superseded or mismatched."""
    row.state = state
    row.resolved_at = utcnow()
    _explain(row, why)


def _explain(row: CallbackRecord, why: Message | None) -> None:
    if why is not None:
        row.note = str(why)
        row.reason = {"msgid": why.msgid, "params": {k: str(v) for k, v in why.params.items()}}


def applied(session: Session, kind: CallbackKind, subject: str, fact: str | None = None) -> CallbackRecord | None:
    """The record through which this fact (or, without ``fact``, any fact on ``subject``) was applied."""
    stmt = select(CallbackRecord).where(
        CallbackRecord.kind == kind, CallbackRecord.subject == subject, CallbackRecord.state == CallbackState.APPLIED
    )
    if fact is not None:
        stmt = stmt.where(CallbackRecord.fact == fact)
    return session.scalars(stmt.order_by(CallbackRecord.id).limit(1)).first()


def held(session: Session, *, limit: int = 100, case_numbers: list[str] | None = None) -> list[int]:
    """Ids of records still held, oldest first (optionally only those of some cases)."""
    stmt = select(CallbackRecord.id).where(CallbackRecord.state == CallbackState.HELD)
    if case_numbers is not None:
        stmt = stmt.where(CallbackRecord.case_number.in_(case_numbers))
    return list(session.scalars(stmt.order_by(CallbackRecord.id).limit(limit)))


def lock(session: Session, record_id: int) -> CallbackRecord | None:
    """A record, its row locked until the transaction ends (SQLite: the write lock is held already)."""
    stmt = select(CallbackRecord).where(CallbackRecord.id == record_id)
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()


def counts(session: Session) -> dict[str, int]:
    """Records by source and state (``callback.applied``, ``query.applied`` ...), and how many callbacks
    were held at some point (``held``) and of those applied since (``held.applied``): for reports and metrics."""
    rows = session.execute(
        select(CallbackRecord.source, CallbackRecord.state, func.count()).group_by(
            CallbackRecord.source, CallbackRecord.state
        )
    )
    found = {f"{source}.{state}": int(number) for source, state, number in rows}
    was_held = session.execute(
        select(CallbackRecord.state, func.count())
        .where(CallbackRecord.held_at.is_not(None))
        .group_by(CallbackRecord.state)
    )
    for state, number in was_held:
        found["held"] = found.get("held", 0) + int(number)
        found[f"held.{state}"] = int(number)
    return found
