"""The log context of a request (:mod:`huiju.logs`): the case a request is about, for every door."""

from __future__ import annotations

from flask import request

from huiju import logs


def bind_case_number() -> None:
    """``before_request``: records logged while a request about a case is served carry its number
    (every route that names a case calls the URL part ``number``)."""
    logs.clear()
    number = (request.view_args or {}).get("number")
    if isinstance(number, str):
        logs.bind(case_number=number)
