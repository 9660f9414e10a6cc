"""The transactional outbox (发件箱).

A service step writes an :class:`OutboxMessage` in the same transaction as the engine step that
asked for it; delivery happens afterwards, outside any transaction, and the outcome is settled
back into the workflow by the engine. The row, not the broker, is the source of truth: a lost
broker message or a killed worker only delays delivery until the sweeper finds the row again.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huiju.db import Base, UTCDateTime, utcnow


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # not delivered yet (maybe waiting for its next attempt)
    DELIVERED = "delivered"  # the reply is stored
    DEAD = "dead"  # failed permanently or ran out of attempts
    CANCELLED = "cancelled"  # the step that asked for it no longer waits (a timer interrupted it)
    HELD = "held"  # its case is suspended (中止): sent when the case is resumed


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_unsettled", "settled_at", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)  # the exchange header's id
    operation: Mapped[str] = mapped_column(String(64))
    system: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    user_id: Mapped[str] = mapped_column(String(64), default="system")
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    # Where the reply goes back to: {"instance_id": ..., "task_id": ..., "result_variable": ...};
    # the process instance also as a column, so that its messages are found by an index.
    reply_to: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    process_instance_id: Mapped[int | None] = mapped_column(index=True)
    status: Mapped[MessageStatus] = mapped_column(Enum(MessageStatus, native_enum=False, length=16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a delivery job was last handed to the broker; the sweeper hands it again only when
    # that job seems lost (no attempt within a while).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_transient: Mapped[bool | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the engine consumed the reply or the failure; NULL means it still has to.
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundMessage(Base):
    """A message id accepted at the inbound endpoint: a second message with it is a replay."""

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    client: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
