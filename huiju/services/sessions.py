"""Web sessions kept on the server (OWASP ASVS V3): revocable at once, with idle and absolute timeouts.

The browser's cookie carries only a random token (256 bits); the ``web_session`` row is found by its
SHA-256 and holds the session's data. A session ends when its row is deleted: on sign-out, when
the user changes the password, when an administrator disables the user
(:func:`end_sessions_of_user`), after ``HUIJU_SESSION_IDLE_MINUTES`` without a request, and
``HUIJU_SESSION_MAX_HOURS`` after it began however active it is. A copied cookie then signs nobody in.

Saving never brings back a row that was deleted meanwhile: a request still running when its session
was ended cannot revive it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from huiju.db import Database, utcnow
from huiju.models import User, WebSession
from huiju.services import actors
from huiju.settings import Settings

#: How often at most the last request's time is written (a write per page view is not needed).
TOUCH_EVERY = timedelta(seconds=60)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_max_hours))

    @property
    def touch_every(self) -> timedelta:
        return min(TOUCH_EVERY, self.idle / 4)

    def alive(self, created_at: datetime, seen_at: datetime, now: datetime) -> bool:
        return now - seen_at <= self.idle and now - created_at <= self.absolute


@dataclass(frozen=True)
class StoredSession:
    data: dict[str, Any]
    user_id: int | None
    created_at: datetime
    seen_at: datetime
    #: The session's user as read with it (their office and its street loaded; detached), if any.
    #: A request's user loader may take it instead of reading the user again: same row, same moment.
    user: User | None = None


#: The session and its user in one statement: every request of a signed-in user needs both.
_WITH_USER = select(WebSession, User).outerjoin(User, User.id == WebSession.user_id).options(*actors.WITH_OFFICE)


def load(db: Database, app: str, token: str, policy: SessionPolicy) -> StoredSession | None:
    """The live session of ``app`` with this token; None when unknown, ended or timed out."""
    if not token or len(token) > 128:
        return None
    with db.sessions() as session:
        found = session.execute(_WITH_USER.where(WebSession.token_hash == token_hash(token))).one_or_none()
        if found is None:
            return None
        row, user = found
        if row.app != app or not policy.alive(row.created_at, row.seen_at, utcnow()):
            return None
        return StoredSession(dict(row.data or {}), row.user_id, row.created_at, row.seen_at, user)


def _user_id(session: Session, user: int | str | None) -> int | None:
    if user is None or isinstance(user, int):
        return user
    return session.scalar(select(User.id).where(User.username == user))


def create(db: Database, app: str, data: Mapping[str, Any], user: int | str | None) -> str:
    """A new session holding ``data``; its token (for the cookie)."""
    token = new_token()
    now = utcnow()
    with db.transaction() as session:
        session.add(
            WebSession(token_hash=token_hash(token), app=app, user_id=_user_id(session, user), data=dict(data),
                       created_at=now, seen_at=now)
        )  # fmt: skip
    return token


def save(db: Database, token: str, data: Mapping[str, Any], user: int | str | None) -> bool:
    """Store the session's new data; False when the session has ended meanwhile (nothing revived)."""
    with db.transaction() as session:
        done = session.execute(
            update(WebSession)
            .where(WebSession.token_hash == token_hash(token))
            .values(data=dict(data), user_id=_user_id(session, user), seen_at=utcnow())
        )
        return bool(getattr(done, "rowcount", 0))


def touch(db: Database, token: str) -> None:
    with db.transaction() as session:
        session.execute(update(WebSession).where(WebSession.token_hash == token_hash(token)).values(seen_at=utcnow()))


def end(db: Database, token: str) -> None:
    """End one session (sign-out)."""
    with db.transaction() as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


def end_sessions_of_user(session: Session, user_id: int) -> int:
    """End every session of a user, in the caller's transaction (disabling an account, a password
    change): the next request of any of them is signed out. Returns how many were ended."""
    done = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(done, "rowcount", 0) or 0)


def end_all_sessions(db: Database, username: str) -> int:
    """:func:`end_sessions_of_user` by user name, in a transaction of its own."""
    with db.transaction() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        return 0 if user_id is None else end_sessions_of_user(session, user_id)


def sessions_of_user(session: Session, user_id: int, policy: SessionPolicy) -> list[WebSession]:
    """The live sessions of a user (for an administrator's view of who is signed in where)."""
    now = utcnow()
    rows = session.scalars(select(WebSession).where(WebSession.user_id == user_id).order_by(WebSession.created_at))
    return [row for row in rows if policy.alive(row.created_at, row.seen_at, now)]


def purge_expired(db: Database, policy: SessionPolicy) -> int:
    """Delete the rows of sessions that have timed out; how many."""
    now = utcnow()
    with db.transaction() as session:
        done = session.execute(
            delete(WebSession).where(
                or_(WebSession.seen_at < now - policy.idle, WebSession.created_at < now - policy.absolute)
            )
        )
        return int(getattr(done, "rowcount", 0) or 0)
