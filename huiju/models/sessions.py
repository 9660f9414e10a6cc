"""Server-side state of web sign-ins: sessions (portal and console) and registrations waiting for
their SMS code. The browser holds only a random token; the database holds its SHA-256, so that a
copy of the table signs nobody in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from huiju.db import Base, UTCDateTime


class WebSession(Base):
    """One browser's session of the portal or the console (会话); deleting the row ends it."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("huiju_user.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PendingRegistration(Base):
    """A registration waiting for the code sent by SMS; its wrong attempts are counted here."""

    __tablename__ = "pending_registration"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18))
    password_hash: Mapped[str] = mapped_column(String(256))
    community_code: Mapped[str | None] = mapped_column(String(32))
    code_mac: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
