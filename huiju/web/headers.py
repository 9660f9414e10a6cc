"""The same security headers on every response of the web process: portal, console, JSON API and
the inbound endpoint (OWASP Secure Headers Project; ASVS 14.4).

Each front end gives its Content-Security-Policy; a response that set its own keeps it (a download
is served in a CSP sandbox). Framing is refused everywhere (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``, for browsers without CSP 2): no page, the console's decision forms least
of all, can be laid under another site's clicks. HSTS is sent in production only, where the site is
reached over HTTPS (RFC 6797); a development server on plain HTTP must stay reachable.
"""

from __future__ import annotations

from flask import Response

PORTAL_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: The console's scripts are all files of its own (Flask-AppBuilder's, bpmn-js, ECharts); its
#: templates set a few inline styles.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)
HSTS = "max-age=31536000; includeSubDomains"


def apply(response: Response, csp: str, *, production: bool, cache: bool = False) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if production:
        headers["Strict-Transport-Security"] = HSTS
    if not cache:
        headers.setdefault("Cache-Control", "no-store")  # pages with a resident's or a case's data
    return response
