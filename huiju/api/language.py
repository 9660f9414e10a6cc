"""The language of an API answer: negotiated from ``Accept-Language`` (RFC 9110, section 12.5.4).

Problem details are rendered in it and every answer of ``/api/v1`` says which one it used in
``Content-Language``; codes (statuses, outcomes, problem titles) stay untranslated.
"""

from __future__ import annotations

from flask import Response, request

from huiju.i18n import negotiate


def request_locale() -> str:
    """``zh_CN`` or ``en``: the best match for the caller's ``Accept-Language`` (Chinese by default)."""
    return negotiate(request.headers.get("Accept-Language"))


def language_tag(locale: str) -> str:
    """The BCP 47 tag of a locale (``zh_CN`` -> ``zh-CN``)."""
    return locale.replace("_", "-")


def mark_language(response: Response) -> Response:
    """Say which language the answer is in (unless the view said so itself); caches must vary on it."""
    response.headers.setdefault("Content-Language", language_tag(request_locale()))
    response.vary.add("Accept-Language")
    return response
