"""The item catalogue (事项目录): the items in every state, adding and editing one (its form's JSON
Schema with a live preview of the portal's form), publishing and withdrawing it."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from huiju import durations
from huiju.i18n import localized
from huiju.models import Item, ItemKind, ResponsibleLevel, TimeUnit
from huiju.services import catalogue, processes
from huiju.services.audit_words import duration_words
from huiju.services.catalogue import ItemFields
from huiju.services.catalogue_versions import form_versions
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires

_MATERIAL_FIELD = re.compile(r"m-(\d{1,3})-(code|name|name_en|required)")
BLANK_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": [],
    "properties": {},
}


def _materials(form: Any) -> list[dict[str, Any]]:
    """The material rows of the edit form (``m-<row>-code`` ...), in row order."""
    rows: dict[int, dict[str, Any]] = {}
    for key, value in form.items():
        found = _MATERIAL_FIELD.fullmatch(key)
        if found:
            rows.setdefault(int(found.group(1)), {})[found.group(2)] = value
    return [{**rows[n], "required": rows[n].get("required") == "on"} for n in sorted(rows)]


def _choices() -> dict[str, Any]:
    """The catalogue's choices in words (:mod:`huiju.services.catalogue` keeps them)."""
    here = locale()
    tables = {"kinds": catalogue.KINDS, "levels": catalogue.LEVELS, "units": catalogue.UNITS,
              "themes": catalogue.THEMES, "states": catalogue.STATES, "field_words": catalogue.FIELD_WORDS}  # fmt: skip
    return {name: localized(table, here) for name, table in tables.items()}


class ItemsView(BaseView):  # type: ignore[misc]
    route_base = "/items"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        with runtime().db.sessions() as session:
            actor = current_actor()
            items = catalogue.list_items(session, actor)
            # Each item's process by the name of its newest version (the process's words, not its id).
            names = {row.process_id: row.latest.name for row in processes.catalogue(session, actor)}
            page = self.render_template("console/processes/items.html", items=items, process_names=names,
                                        locale=locale(), **_choices())  # fmt: skip
        return page

    def _form(self, item: Item | None, fields: ItemFields, *, versions: Any = (), counts: Any = None) -> Any:
        with runtime().db.sessions() as session:
            deployed = [row for row in processes.catalogue(session, current_actor()) if row.kind.value == "bpmn"]
        return self.render_template(
            "console/processes/item.html", item=item, fields=fields, deployed=deployed, versions=versions,
            counts=counts or {}, schema_text=json.dumps(fields.form_schema, ensure_ascii=False, indent=2),
            wait_days=durations.whole_days(fields.supplement_wait),
            wait_words=duration_words(fields.supplement_wait, locale()) or fields.supplement_wait,
            locale=locale(), **_choices(),
        )  # fmt: skip

    @expose("/new", methods=["GET", "POST"])
    @requires("can_edit")
    def new(self) -> Any:
        if request.method == "GET":
            blank = ItemFields(code="", name="", name_en="", kind=ItemKind.PUBLIC_SERVICE.value,
                               responsible_level=ResponsibleLevel.COMMUNITY.value, statutory_limit=20,
                               committed_limit=10, limit_unit=TimeUnit.WORKING_DAYS.value, process_id="",
                               form_schema=dict(BLANK_SCHEMA))  # fmt: skip
            return self._form(None, blank)
        with runtime().db.transaction() as session:
            fields = catalogue.fields_from_form(request.form, _materials(request.form))
            item = catalogue.create_item(session, current_actor(), fields)
            code = item.code
        flash(str(_l("Item %(code)s added as a draft.", code=code)), "success")
        return redirect(url_for("ItemsView.edit", code=code), 303)

    @expose("/<code>", methods=["GET", "POST"])
    @requires("can_read")
    def edit(self, code: str) -> Any:
        if request.method == "POST":
            return self._save(code)
        with runtime().db.sessions() as session:
            item = catalogue.get_item(session, current_actor(), code)
            page = self._form(item, ItemFields.of(item), versions=form_versions(session, item),
                              counts=catalogue.cases_by_form_version(session, item))  # fmt: skip
        return page

    @requires("can_edit")
    def _save(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            fields = catalogue.fields_from_form(request.form, _materials(request.form))
            item = catalogue.update_item(session, current_actor(), code, fields)
            new_code, version = item.code, item.form_version
        flash(str(_l("Saved. New applications use version %(version)s of the form.", version=version)), "success")
        return redirect(url_for("ItemsView.edit", code=new_code), 303)

    @expose("/<code>/publish", methods=["POST"])
    @requires("can_edit")
    def publish(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            catalogue.publish_item(session, current_actor(), code)
        flash(str(_l("Published: residents can apply for it.")), "success")
        return redirect(url_for("ItemsView.edit", code=code), 303)

    @expose("/<code>/withdraw", methods=["POST"])
    @requires("can_edit")
    def withdraw(self, code: str) -> Any:
        with runtime().db.transaction() as session:
            catalogue.withdraw_item(session, current_actor(), code, request.form.get("reason") or "")
        flash(str(_l("Withdrawn: no new applications; the cases submitted go on.")), "success")
        return redirect(url_for("ItemsView.edit", code=code), 303)
