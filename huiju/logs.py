"""Process logs: one JSON object a line in production, readable lines in development.

Every record carries the case number and the message id of the work it belongs to, when there is
one: code that works on a case or a message binds them for its extent (:func:`bound`), and a filter
copies them onto every record logged meanwhile, in this thread or task (context variables). The
format is chosen by ``HUIJU_LOG_FORMAT`` (``json`` or ``text``; by default ``json`` when
``HUIJU_ENV=production``) and the level by ``HUIJU_LOG_LEVEL``.

The JSON keys are those log collectors expect: ``time`` (RFC 3339, UTC, milliseconds), ``level``,
``logger``, ``message``, ``case_number``, ``message_id``, ``process``, ``thread``, and
``exception`` with the formatted traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from huiju.settings import Settings

_case_number: ContextVar[str | None] = ContextVar("huiju_case_number", default=None)
_message_id: ContextVar[str | None] = ContextVar("huiju_message_id", default=None)
CONTEXT_KEYS = ("case_number", "message_id")
_HANDLER_NAME = "huiju"


@contextmanager
def bound(*, case_number: str | None = None, message_id: str | None = None) -> Iterator[None]:
    """Records logged inside carry this case number and message id (those not given stay as they were)."""
    tokens = []
    if case_number is not None:
        tokens.append((_case_number, _case_number.set(case_number)))
    if message_id is not None:
        tokens.append((_message_id, _message_id.set(message_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind(*, case_number: str | None = None, message_id: str | None = None) -> None:
    """Set the context for the rest of this task (a worker job, a request); :func:`clear` ends it."""
    if case_number is not None:
        _case_number.set(case_number)
    if message_id is not None:
        _message_id.set(message_id)


def clear() -> None:
    _case_number.set(None)
    _message_id.set(None)


def current() -> dict[str, str | None]:
    return {"case_number": _case_number.get(), "message_id": _message_id.get()}


class ContextFilter(logging.Filter):
    """Copies the bound case number and message id onto each record (an ``extra=`` given wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        entry["process"] = record.process
        entry["thread"] = record.threadName
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-12-06 10:00:00,123 INFO    exchange.delivery [HJ2026120600001 1f0c…] sent``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(context)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        shown = [str(v) for v in (getattr(record, key, None) for key in CONTEXT_KEYS) if v is not None]
        record.context = f" [{' '.join(shown)}]" if shown else ""
        return super().format(record)


def log_format(settings: Settings) -> str:
    return settings.log_format or ("json" if settings.env == "production" else "text")


def configure(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Install Huiju's handler on the root logger (once per process; again replaces it)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format(settings) == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler
