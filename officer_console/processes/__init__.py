"""The console's pages for processes and cases (流程与办件): process definitions with the modeler,
the search of cases and the operations on a running case, and the item catalogue (事项目录).
:func:`register` adds their views and menu entries to the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from huiju.calendar import CHINA

#: What administrators and integrators may open here (FAB built-in roles: view regex, permission regex).
ADMINISTRATOR_PERMISSIONS = [
    ["^(ProcessesView|RunningCasesView|ItemsView)$", "^can_"],
    ["^(Processes and cases|Process definitions|Case search|Item catalogue)$", "^menu_access$"],
]
INTEGRATOR_PERMISSIONS = [
    ["^ProcessesView$", "^can_read$"],
    ["^(Processes and cases|Process definitions)$", "^menu_access$"],
]


def beijing_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) time as people here read it: Beijing time."""
    return moment.astimezone(CHINA).strftime(fmt) if moment is not None else ""


def register(appbuilder: AppBuilder) -> None:
    from officer_console.processes.catalogue import ItemsView
    from officer_console.processes.definitions import ProcessesView
    from officer_console.processes.running import RunningCasesView

    current_app.jinja_env.filters["beijing_time"] = beijing_time  # (inside the console's app context)
    menu: dict[str, Any] = {"category": "Processes and cases", "category_label": _l("Processes and cases"),
                            "category_icon": "fa-sitemap"}  # fmt: skip
    appbuilder.add_view(ProcessesView, "Process definitions", label=_l("Process definitions"), icon="fa-sitemap",
                        **menu)  # fmt: skip
    appbuilder.add_view(RunningCasesView, "Case search", label=_l("Case search"), icon="fa-search", **menu)
    appbuilder.add_view(ItemsView, "Item catalogue", label=_l("Item catalogue"), icon="fa-list-alt", **menu)
