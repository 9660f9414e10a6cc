"""The one exception tree over HTTP: the status each kind of error answers with, and its RFC 9457
``application/problem+json`` body.

The errors themselves know nothing of HTTP (:mod:`huiju.errors`); a kind is named by its ``code``
and the status is looked up along the class's ancestry, so that a new subclass answers like its
parent until it is given a row here.
"""

from __future__ import annotations

from typing import Any

from huiju.errors import HuijuError

#: HTTP status by error code; an error whose code (or an ancestor's) is absent answers 500.
STATUS: dict[str, int] = {
    "invalid-input": 400,
    "invalid-form-data": 422,
    "not-found": 404,
    "forbidden": 403,
    "conflict": 409,
    "invalid-process": 422,
    "invalid-expression": 422,
    "step-failed": 422,
    "adapter": 502,
    # certs.errors: a refused signature or certificate is the caller's problem; the store's is ours.
    "certificate": 403,
    "certificate-store": 500,
    "certificate-refused": 400,
    "unknown-certificate": 404,
    "signing-failed": 500,
    "xml-refused": 400,
    "message-too-large": 413,
    # huiju.api.errors
    "unauthenticated": 401,
    "unsupported-media-type": 415,
    "body-too-large": 413,
    # huiju.web.throttle
    "too-many-attempts": 429,
}


def http_status(exc: HuijuError) -> int:
    for cls in type(exc).__mro__:
        code = cls.__dict__.get("code")
        if isinstance(code, str) and code in STATUS:
            return STATUS[code]
    return 500


def to_problem(exc: HuijuError, locale: str | None = "en") -> dict[str, Any]:
    """An RFC 9457 problem body, its detail in the given locale."""
    body: dict[str, Any] = {
        "type": f"https://huiju.example/problems/{exc.code}",
        "title": exc.code,
        "status": http_status(exc),
        "detail": exc.localized(locale),
    }
    if exc.details:
        body["errors"] = exc.details
    return body
