"""Web security of the portal: response headers, CSRF on every POST, and login attempt limits.

Headers follow the OWASP secure-headers advice: no MIME sniffing, no framing (clickjacking), a
Content-Security-Policy that allows no inline script or style at all (the CSS is a static file and
the portal needs no JavaScript), and no caching of pages that carry a resident's data.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from portal.services import normalize_login

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Failed sign-ins allowed per account and per client address before the form answers 429.
DEFAULT_ACCOUNT_LIMIT = "5 per 15 minutes"
DEFAULT_ADDRESS_LIMIT = "20 per 15 minutes"
FAILED_LOGIN_FLAG = "portal_login_failed"


def secure_headers(response: Response, static_prefix: str) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "same-origin"
    if not request.path.startswith(static_prefix):
        response.headers["Cache-Control"] = "no-store"
    return response


def check_csrf() -> None:
    """Refuse any POST without a valid token from this session (Flask-WTF's signed, timed token)."""
    if request.method != "POST":
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc


def configure_session(app: Flask) -> None:
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("the portal needs SECRET_KEY (sessions and CSRF tokens are signed with it)")


def create_limiter(app: Flask) -> Limiter:
    """A limiter of the app's own; its storage (``memory://`` unless configured) counts failures only."""
    return Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config.get("PORTAL_RATELIMIT_STORAGE_URI", "memory://"),
        strategy="moving-window",
        key_prefix="portal",
    )


def account_key() -> str:
    return "account:" + normalize_login(request.form.get("login", "")).lower()


def address_key() -> str:
    return "address:" + (get_remote_address() or "unknown")


def login_failed(_response: Response) -> bool:
    """Deduct from the limits only when the sign-in failed (set by the view)."""
    return bool(g.get(FAILED_LOGIN_FLAG, False))


def mark_login_failed() -> None:
    g.setdefault(FAILED_LOGIN_FLAG, True)
