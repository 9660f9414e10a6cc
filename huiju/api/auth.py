"""HTTP Basic authentication (RFC 7617) against Huiju's user table.

The credentials are checked by :func:`huiju.services.actors.authenticate` in a short transaction of
their own; the view then works as the resulting :class:`~huiju.services.actors.Actor`. Failed
attempts are throttled like the portal's and the console's (:mod:`huiju.web.throttle`): an
address that fails too often gets 429, an account that fails too often makes each next attempt wait,
told by ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from flask_limiter.util import get_remote_address

from huiju.api.errors import AuthenticationRequired
from huiju.errors import PermissionDenied
from huiju.i18n import _
from huiju.services.actors import Actor, authenticate
from huiju.services.users import must_change_password
from huiju.web.runtime import runtime
from huiju.web.throttle import throttle_of

F = TypeVar("F", bound=Callable[..., Any])


def _check_credentials() -> Actor:
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise AuthenticationRequired(_("this API needs HTTP Basic credentials (user name and password)"))
    username, password = credentials.username, credentials.password
    if not username or password is None:
        raise AuthenticationRequired(_("HTTP Basic credentials need a user name and a password"))
    throttle = throttle_of(current_app)
    account, address = username.strip().lower(), get_remote_address() or "unknown"
    throttle.check(account, address)
    try:
        with runtime().db.sessions() as session:
            actor = authenticate(session, username, password)
            must_change = must_change_password(session, username)
    except PermissionDenied as exc:
        throttle.failed(account, address)
        raise AuthenticationRequired(exc.text) from exc
    throttle.succeeded(account)
    if must_change:  # a temporary password opens no API
        raise AuthenticationRequired(_("the password was reset: choose a new one in the console or the portal first"))
    return actor


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.huiju_actor = _check_credentials()
        return view(*args, **kwargs)

    return cast(F, wrapper)


def current_actor() -> Actor:
    actor = g.get("huiju_actor")
    if not isinstance(actor, Actor):
        raise AuthenticationRequired(_("not authenticated"))
    return actor
