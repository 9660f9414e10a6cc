"""Who is signed in to the portal, and the decorator of pages that need a resident."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for

from huiju.web.sessions import regenerate_session
from portal.i18n import LANG_KEY
from portal.services import Account

USER_KEY = "portal_user"
DISPLAY_KEY = "portal_display"
DISPLAYS = ("standard", "large")
#: What survives signing in and out: the resident's language and display choices.
PREFERENCES = (LANG_KEY, DISPLAY_KEY)

F = TypeVar("F", bound=Callable[..., Any])


def current_account() -> Account | None:
    return cast(Account | None, g.get("portal_account"))


def signed_in() -> Account:
    """The signed-in account of a page behind :func:`resident_required`."""
    account = current_account()
    if account is None:  # pragma: no cover - resident_required has redirected already
        raise RuntimeError("no resident is signed in")
    return account


def resident_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            if request.method != "GET":
                return redirect(url_for("portal.login"))
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        if g.get("portal_must_change") and request.endpoint != "portal.password":
            return redirect(url_for("portal.password"))  # an administrator reset the password
        return view(*args, **kwargs)

    return cast(F, wrapper)


def safe_next(target: str | None) -> str:
    """Only a path inside the portal: never another site (open redirect) or a scheme-relative URL."""
    home = url_for("portal.home")
    if not target:
        return home
    parts = urlsplit(target)
    prefix = url_for("portal.home").rstrip("/") + "/"
    if parts.scheme or parts.netloc or "\\" in target or not target.startswith(prefix) or target.startswith("//"):
        return home
    return target


def restart_session(**values: str) -> None:
    """A new session on sign-in and sign-out, keeping only the display preferences: a new token
    (no fixation), and the old session ended on the server, so a copy of the old cookie signs
    nobody in (see :mod:`huiju.web.sessions`)."""
    kept = {key: session[key] for key in PREFERENCES if key in session}
    session.clear()
    session.update(kept)
    session.update(values)
    regenerate_session()
