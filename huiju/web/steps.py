"""The steps' names in the request's language, for the console's and the portal's templates:
``{{ step_name(task.name) }}`` (see :mod:`workflows_bpmn.step_names`)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, g
from jinja2 import pass_context
from jinja2.runtime import Context

from huiju.web.runtime import runtime
from workflows_bpmn.step_names import StepNames, step_names

_KEY = "huiju_step_names"


def request_step_names() -> StepNames:
    """The names as this request found them (read once; kept between requests, see huiju.reference)."""
    found: StepNames | None = g.get(_KEY)
    if found is None:
        with runtime().db.sessions() as session:
            found = step_names(session)
        setattr(g, _KEY, found)
    return found


def install(app: Flask, locale_of: Callable[[], str | None]) -> None:
    """``step_name(name)`` in ``app``'s templates: the name in the template's ``locale``, or in
    ``locale_of()``'s where the template has none."""

    @pass_context
    def step_name(context: Context, name: str | None) -> str:
        locale = context.get("locale")
        return request_step_names().of(name, locale if isinstance(locale, str) else locale_of())

    app.jinja_env.globals["step_name"] = step_name
