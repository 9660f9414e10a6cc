"""Web security of the portal: server-side sessions, response headers, CSRF on every POST, and the
sign-in throttle.

Sessions live on the server (:mod:`huiju.web.sessions`): the cookie carries a random token only,
signing out or a password change ends the session for every copy of the cookie, and the cookie is
``Secure`` in production. Headers are the web process's common set (:mod:`huiju.web.headers`) with a
Content-Security-Policy that allows no inline script or style at all (the CSS is a static file and
the portal needs no JavaScript). Failed sign-ins slow down an account and stop an address
(:mod:`huiju.web.throttle`), they never lock a resident out.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from huiju.runtime import Runtime
from huiju.web import headers
from huiju.web.sessions import ServerSessionInterface, cookie_settings
from portal.auth import USER_KEY
from portal.services import normalize_login

SESSION_COOKIE = "huiju_portal"


def secure_headers(response: Response, static_prefix: str, *, production: bool) -> Response:
    return headers.apply(
        response, headers.PORTAL_CSP, production=production, cache=request.path.startswith(static_prefix)
    )


def check_csrf() -> None:
    """Refuse any POST without a valid token from this session (Flask-WTF's signed, timed token)."""
    if request.method != "POST":
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc


def configure_session(app: Flask, runtime: Runtime) -> None:
    """Server-side sessions on the application the portal is mounted on (the cookie's path is /)."""
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("the portal needs SECRET_KEY (CSRF tokens are signed with it)")
    app.config.update(cookie_settings(runtime, SESSION_COOKIE, "/"))
    app.session_interface = ServerSessionInterface("portal", lambda data: data.get(USER_KEY))


def account_key(login: str) -> str:
    """The account a sign-in names, as typed (a phone number reduced to its digits), lower case."""
    return normalize_login(login).lower()


def address_key() -> str:
    return get_remote_address() or "unknown"
