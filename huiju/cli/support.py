"""What every ``huiju`` command shares: the language, error handling with exit codes, the runtime."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click

from huiju.errors import (
    ConflictError,
    DeployError,
    HuijuError,
    InputError,
    NotFoundError,
    PermissionDenied,
    SchemaError,
)
from huiju.i18n import Message, _, localize

EXIT_CODES: list[tuple[type[HuijuError], int]] = [
    (InputError, 2),
    (DeployError, 2),
    (NotFoundError, 3),
    (PermissionDenied, 4),
    (ConflictError, 5),
]


def cli_locale() -> str:
    """The language of the command line (``HUIJU_LANG``); Chinese when the settings cannot be read."""
    from huiju.errors import ConfigurationError
    from huiju.settings import load_settings

    try:
        return load_settings().lang
    except ConfigurationError:
        return "zh_CN"


def say(text: str | Message, *, err: bool = False) -> None:
    """Print one line for a person, in the language of the command line."""
    click.echo(localize(text, cli_locale()), err=err)


def _exit_code(exc: HuijuError) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HuijuError as exc:
            if isinstance(exc, SchemaError) and exc.problems:
                # What is wrong with each field, in words (the validator's own findings are for programs).
                say(_("error: the form needs correcting:"), err=True)
                for problem in exc.problems.values():
                    say(f"  {localize(problem, cli_locale())}", err=True)
            else:  # the details of an error are for programs (field codes, ids): not printed
                say(_("error: {message}", message=exc.text), err=True)
            sys.exit(_exit_code(exc))

    return wrapper


@contextmanager
def runtime_ctx(with_celery: bool = True) -> Iterator[Any]:
    from huiju.app.bootstrap import build_runtime

    runtime = build_runtime(with_celery=with_celery)
    try:
        yield runtime
    finally:
        runtime.db.dispose()


def json_arg(raw: str | None, what: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if raw.startswith("@"):
        raw = Path(raw[1:]).read_text(encoding="utf-8")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(
            _("{what} is not valid JSON: {error} at column {column}", what=what, error=exc.msg, column=exc.colno)
        ) from exc
    if not isinstance(value, dict):
        raise InputError(_("{what} must be a JSON object", what=what))
    return value
