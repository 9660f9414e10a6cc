"""HTTP Basic authentication (RFC 7617) against Huiju's user table.

The credentials are checked by :func:`huiju.services.actors.authenticate` in a short read-only
session of their own (a check never waits for a writer); the view then works as the resulting
:class:`~huiju.services.actors.Actor`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from huiju.api.errors import AuthenticationRequired
from huiju.errors import PermissionDenied
from huiju.i18n import _
from huiju.services.actors import Actor, authenticate
from huiju.web.runtime import runtime
from huiju.web.signins import refused

F = TypeVar("F", bound=Callable[..., Any])


def _check_credentials() -> Actor:
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise AuthenticationRequired(_("this API needs HTTP Basic credentials (user name and password)"))
    username, password = credentials.username, credentials.password
    if not username or password is None:
        raise AuthenticationRequired(_("HTTP Basic credentials need a user name and a password"))
    try:
        with runtime().db.sessions() as session:
            return authenticate(session, username, password)
    except PermissionDenied as exc:
        refused("api", "wrong_password")
        raise AuthenticationRequired(exc.text) from exc


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
