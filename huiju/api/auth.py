"""HTTP Basic authentication (RFC 7617) against Huiju's user table.

The credentials are checked by :func:`huiju.services.actors.authenticate` in a short transaction of
their own; the view then works as the resulting :class:`~huiju.services.actors.Actor`.
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
from huiju.services.users import must_change_password
from huiju.web.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])


def _check_credentials() -> Actor:
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise AuthenticationRequired(_("this API needs HTTP Basic credentials (user name and password)"))
    username, password = credentials.username, credentials.password
    if not username or password is None:
        raise AuthenticationRequired(_("HTTP Basic credentials need a user name and a password"))
    try:
        with runtime().db.transaction() as session:
            actor = authenticate(session, username, password)
            if must_change_password(session, username):  # a temporary password opens no API
                raise PermissionDenied(_("the password was reset: choose a new one in the console or the portal first"))
            return actor
    except PermissionDenied as exc:
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
