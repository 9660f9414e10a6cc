"""The steps' names in the request's language, for the console's and the portal's templates:
``{{ step_name(task.name) }}`` (see :mod:`workflows_bpmn.step_names`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Flask, g

from huiju.i18n import normalize
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
    """``step_name(name)`` in ``app``'s templates: the name in the request's language (``locale_of``).

    The inbox says it in every row: each render gets its own function, which finds the request's
    language and names once, then answers with a dictionary lookup."""

    def provide() -> dict[str, Callable[[str | None], str]]:
        found: list[Mapping[str, str]] = []

        def step_name(name: str | None) -> str:
            if not name:
                return ""
            if not found:
                found.append(request_step_names().english if normalize(locale_of()) == "en" else {})
            return found[0].get(name, name)

        return {"step_name": step_name}

    app.context_processor(provide)
