"""Every error of the API as an RFC 9457 ``application/problem+json`` body.

Huiju's own errors answer with the status and body of :mod:`huiju.web.problems`; Flask's HTTP errors
(404, 405, 413, 415 ...) inside ``/api/v1`` are turned into the same shape; anything unexpected
becomes a 500 problem that names nothing of the internals (the traceback goes to the log only).
Details are in the language negotiated from ``Accept-Language`` (see :mod:`huiju.api.language`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, json, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from huiju.api.language import mark_language, request_locale
from huiju.errors import HuijuError, InputError
from huiju.i18n import Message, _
from huiju.web.problems import http_status, to_problem

PROBLEM_MIMETYPE = "application/problem+json"
REALM = "huiju"
PREFIXES_KEY = "huiju.api.prefixes"


class AuthenticationRequired(HuijuError):
    """No credentials, or wrong ones (HTTP 401; the service layer's ``PermissionDenied`` is 403)."""

    code = "unauthenticated"


class UnsupportedMediaType(InputError):
    code = "unsupported-media-type"


class BodyTooLarge(InputError):
    code = "body-too-large"


def problem_response(problem: dict[str, Any], status: int) -> Response:
    response = current_app.response_class(
        json.dumps(problem, ensure_ascii=False), status=status, mimetype=PROBLEM_MIMETYPE
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return mark_language(response)


#: Details of the HTTP errors that Flask raises before a view runs (its own texts are English only).
HTTP_DETAILS: dict[int, Message] = {
    404: _("there is no such resource in this API"),
    405: _("this resource does not answer to this method"),
}


def _http_problem(exc: HTTPException) -> dict[str, Any]:
    status = exc.code or 500
    title = (exc.name or "error").lower().replace(" ", "-")
    locale = request_locale()
    known = HTTP_DETAILS.get(status)
    if known is not None and locale != "en":
        detail = known.localize(locale)
    else:
        detail = exc.description or exc.name or ""
    return {
        "type": f"https://huiju.example/problems/{title}",
        "title": title,
        "status": status,
        "detail": detail,
    }


def handle_huiju_error(exc: HuijuError) -> Response:
    status = http_status(exc)
    if status >= 500:
        current_app.logger.error("API request %s %s failed: %s", request.method, request.path, exc)
    response = problem_response(to_problem(exc, request_locale()), status)
    retry_after = exc.details.get("retry_after")
    if status == 429 and isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)  # RFC 9110 10.2.3
    return response


def handle_http_exception(exc: HTTPException) -> Response | HTTPException:
    """Registered on the application: only requests under the blueprint's prefix get problem+json."""
    prefixes: tuple[str, ...] = current_app.extensions.get(PREFIXES_KEY, ())
    if not any(request.path == p or request.path.startswith(p + "/") for p in prefixes):
        return exc
    problem = _http_problem(exc)
    response = problem_response(problem, problem["status"])
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)  # type: ignore[return-value]
    if isinstance(exc, HuijuError):
        return handle_huiju_error(exc)
    current_app.logger.exception("unexpected error in API request %s %s", request.method, request.path)
    problem = {
        "type": "https://huiju.example/problems/internal",
        "title": "internal",
        "status": 500,
        "detail": _("an unexpected error occurred; it has been logged").localize(request_locale()),
    }
    return problem_response(problem, 500)


def register(bp: Blueprint) -> None:
    bp.register_error_handler(HuijuError, handle_huiju_error)
    bp.register_error_handler(Exception, handle_unexpected)
    bp.after_request(mark_language)
    # Routing errors (unknown path, wrong method) happen before a blueprint is chosen, so this
    # handler sits on the application and looks at the path.
    bp.app_errorhandler(HTTPException)(handle_http_exception)
    bp.record(_remember_prefix)


def _remember_prefix(state: BlueprintSetupState) -> None:
    prefix = (state.url_prefix or "").rstrip("/")
    known: tuple[str, ...] = state.app.extensions.get(PREFIXES_KEY, ())
    state.app.extensions[PREFIXES_KEY] = (*known, prefix)
