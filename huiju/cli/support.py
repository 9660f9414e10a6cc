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

from huiju.errors import ConflictError, DeployError, HuijuError, InputError, NotFoundError, PermissionDenied
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
            say(_("error: {message}", message=exc.text), err=True)
            for key, value in exc.details.items():
                click.echo(f"  {key}: {value}", err=True)
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


def acting_administrator(session: Any, username: str | None, *, bootstrap: bool = False) -> Any:
    """The administrator a command acts as: ``--as`` when given; else the ``admin`` account, or the
    only active administrator; with ``bootstrap`` (creating the first account), when there is none
    yet, the operator at this terminal (``cli:<login>``), as whoever holds the database's keys."""
    import getpass

    from sqlalchemy import select

    from huiju.models import Role, User
    from huiju.services.actors import Actor, actor_for, load_actor

    if username:
        actor = load_actor(session, username)
        if actor.role is not Role.ADMINISTRATOR:
            raise PermissionDenied(_("only administrators may do this; {username} is not one", username=username))
        return actor
    admins = list(
        session.scalars(
            select(User).where(User.role == Role.ADMINISTRATOR, User.active.is_(True)).order_by(User.username)
        )
    )
    named = [u for u in admins if u.username == "admin"]
    if named or len(admins) == 1:
        return actor_for((named or admins)[0])
    if admins:
        raise InputError(
            _("there are several administrators: say which one acts with --as ({names})",
              names=", ".join(u.username for u in admins))
        )  # fmt: skip
    if bootstrap:
        try:
            login = getpass.getuser()
        except (KeyError, OSError):
            login = "operator"
        return Actor(f"cli:{login}"[:64], Role.ADMINISTRATOR)
    raise NotFoundError(_("there is no administrator account yet: create one with "
                          "huiju users create NAME --role administrator"))  # fmt: skip


def acting_integrator(session: Any, username: str | None) -> Any:
    """The integrator a command acts as: ``--as``, else the ``integrator`` account or the only one."""
    from sqlalchemy import select

    from huiju.models import Role, User
    from huiju.services.actors import actor_for, load_actor

    if username:
        actor = load_actor(session, username)
        if actor.role is not Role.INTEGRATOR:
            raise PermissionDenied(_("only integrators may do this; {username} is not one", username=username))
        return actor
    found = list(session.scalars(select(User).where(User.role == Role.INTEGRATOR, User.active.is_(True))))
    named = [u for u in found if u.username == "integrator"]
    if named or len(found) == 1:
        return actor_for((named or found)[0])
    if found:
        raise InputError(_("there are several integrators: say which one acts with --as ({names})",
                           names=", ".join(sorted(u.username for u in found))))  # fmt: skip
    raise NotFoundError(_("there is no integrator account yet: create one with "
                          "huiju users create NAME --role integrator"))  # fmt: skip
