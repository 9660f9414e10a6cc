"""Flask sessions kept on the server (:mod:`huiju.services.sessions`), for the portal and the console.

The cookie carries a random token and nothing else; the session's data is a row of ``web_session``.
``session.regenerate()`` gives the session a new token at sign-in and sign-out (no fixation: the
old token stops working), ``session.end()`` deletes it. Cookies are ``HttpOnly``, ``SameSite=Lax``
and, in production, ``Secure`` with the ``__Host-``/``__Secure-`` name prefixes (RFC 6265bis 4.1.3),
so that no other site or plain-HTTP page can set or read them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask, Request, Response
from flask import session as flask_session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from huiju.db import utcnow
from huiju.models import User
from huiju.runtime import Runtime
from huiju.services import sessions as store
from huiju.web.runtime import EXTENSION_KEY

#: The signed-in user of a session's data: a user id, a user name, or None.
UserOf = Callable[[Mapping[str, Any]], int | str | None]
PURGE_EVERY_SECONDS = 300.0


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        token: str | None = None,
        seen_at: datetime | None = None,
        user: User | None = None,
    ) -> None:
        def changed(_self: CallbackDict[str, Any]) -> None:
            self.modified = True
            self.accessed = True

        super().__init__(data or {}, changed)
        self.token = token
        self.seen_at = seen_at
        #: The session's user, read with the session (see :func:`preloaded_user`).
        self.user = user
        self.new = token is None
        self.modified = False
        self.accessed = False
        self.renew = False
        self.ended = False

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().setdefault(key, default)

    def regenerate(self) -> None:
        """A new token for this session's data from now on; the old one ends (sign-in, sign-out)."""
        self.renew = True
        self.modified = True

    def end(self) -> None:
        """End this session: its row is deleted and the cookie removed."""
        self.clear()
        self.ended = True
        self.modified = True


def preloaded_user(*, user_id: int | None = None, username: str | None = None) -> User | None:
    """The user with this id (console) or name (portal) as read with this request's session (the
    same row, a moment before), or None: a request's user loader takes it instead of reading the
    user again."""
    current = flask_session._get_current_object()  # type: ignore[attr-defined]
    user = current.user if isinstance(current, ServerSession) else None
    if user is None or (user_id is None and username is None):
        return None
    if (user_id is not None and user.id != user_id) or (username is not None and user.username != username):
        return None
    return user


class ServerSessionInterface(SessionInterface):
    def __init__(self, app_name: str, user_of: UserOf) -> None:
        self.app_name = app_name
        self.user_of = user_of
        self._purged = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def _runtime(app: Flask) -> Runtime:
        found = app.extensions[EXTENSION_KEY]
        if not isinstance(found, Runtime):
            raise RuntimeError("server-side sessions need the Huiju runtime on the app")
        return found

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        rt = self._runtime(app)
        token = request.cookies.get(self.get_cookie_name(app))
        if token:
            stored = store.load(rt.db, self.app_name, token, store.SessionPolicy.from_settings(rt.settings))
            if stored is not None:
                return ServerSession(stored.data, token, stored.seen_at, stored.user)
        return ServerSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession):
            raise TypeError("a session of another interface")
        rt = self._runtime(app)
        policy = store.SessionPolicy.from_settings(rt.settings)
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        if session.accessed:
            response.vary.add("Cookie")
        if session.token is not None and (session.ended or session.renew):
            store.end(rt.db, session.token)
            session.token = None
        if session.token is None:
            if not session or session.ended:
                if session.ended or session.renew:
                    response.delete_cookie(name, domain=domain, path=path)
                return
            token = store.create(rt.db, self.app_name, dict(session), self._user(session))
            self._set_cookie(app, response, token)
            self._purge(rt, policy)
            return
        if session.modified:
            if not store.save(rt.db, session.token, dict(session), self._user(session)):
                response.delete_cookie(name, domain=domain, path=path)  # ended meanwhile: not revived
            return
        if session.seen_at is not None and (utcnow() - session.seen_at) > policy.touch_every:
            store.touch(rt.db, session.token)

    def _user(self, session: ServerSession) -> int | str | None:
        """The session's user for its row: the id of the user read with the session when it is the
        same one (the store would read it again by name), else what ``user_of`` names."""
        user = self.user_of(session)
        held = session.user
        if isinstance(user, str) and held is not None and held.username == user:
            return held.id
        return user

    def _set_cookie(self, app: Flask, response: Response, token: str) -> None:
        # A browser-session cookie: the server decides when the session ends, not the cookie's age.
        response.set_cookie(
            self.get_cookie_name(app), token, domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app), httponly=True, samesite=self.get_cookie_samesite(app) or "Lax",
        )  # fmt: skip

    def _purge(self, rt: Runtime, policy: store.SessionPolicy) -> None:
        """Now and then, when a session is created, the rows of timed-out sessions are deleted."""
        now = time.monotonic()
        with self._lock:
            if now - self._purged < PURGE_EVERY_SECONDS:
                return
            self._purged = now
        store.purge_expired(rt.db, policy)


def cookie_settings(runtime: Runtime, base_name: str, path: str) -> dict[str, Any]:
    """The session cookie's configuration: ``Secure`` and a name prefix in production."""
    production = runtime.settings.production
    if production:
        name = f"__Host-{base_name}" if path == "/" else f"__Secure-{base_name}"
    else:
        name = base_name
    return {
        "SESSION_COOKIE_NAME": name,
        "SESSION_COOKIE_PATH": path,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
    }


def regenerate_session() -> None:
    """Give the current session a new token (sign-in, sign-out); the old token ends."""
    current = flask_session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(current, ServerSession):
        current.regenerate()


def end_session() -> None:
    """End the current session on the server and remove its cookie."""
    current = flask_session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(current, ServerSession):
        current.end()
    else:
        current.clear()
