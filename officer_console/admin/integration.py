"""Adapters (接口配置) for integrators: each government system's settings, "test connection" with the
signed request and the verified reply, and systems added by uploading their WSDL with their
operations mapped. Each request calls one function of :mod:`huiju.services.integration` or
:mod:`huiju.services.systems`."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from adapters.config import EDITABLE, SETTING_WORDS
from adapters.contracts import contract_file
from huiju.errors import InputError
from huiju.i18n import localized
from huiju.labels import label
from huiju.services import integration, systems
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires


class AdaptersView(BaseView):  # type: ignore[misc]
    route_base = "/adapters"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        with runtime().db.sessions() as session:
            found = integration.adapters(session, current_actor())
            page = self.render_template("console/admin/adapters.html", adapters=found, locale=locale(),
                                        secure=runtime().settings.exchange_signing)  # fmt: skip
        return page

    def _page(self, name: str, result: integration.ConnectionTest | None = None, status: int = 200) -> Any:
        with runtime().db.sessions() as session:
            actor = current_actor()
            found = integration.adapter(session, actor, name)
            uploaded = None if found.system.builtin else systems.describe(session, actor, name)
            here = locale()
            page = self.render_template(
                "console/admin/adapter.html", a=found, uploaded=uploaded, result=result, locale=here,
                secure=runtime().settings.exchange_signing, label=label, setting_words=localized(SETTING_WORDS, here),
            )  # fmt: skip
        return page, status

    @expose("/<name>")
    @requires("can_read")
    def show(self, name: str) -> Any:
        return self._page(name)

    @expose("/<name>", methods=["POST"])
    @requires("can_edit")
    def save(self, name: str) -> Any:
        changes = {key: request.form[key] for key in EDITABLE if key in request.form}
        changes["enabled"] = "true" if request.form.get("enabled") == "1" else "false"
        rt = runtime()
        with rt.db.transaction() as session:
            found = integration.configure(session, current_actor(), name, changes, secure=rt.settings.exchange_signing)
            title = found.system.title.localize(locale())
        flash(str(_l("Settings of %(system)s saved.", system=title)), "success")
        return redirect(url_for("AdaptersView.show", name=name), 303)

    @expose("/<name>/test", methods=["POST"])
    @requires("can_edit")
    def test(self, name: str) -> Any:
        rt = runtime()
        result = integration.test_connection(rt.db, current_actor(), name, rt.security)
        return self._page(name, result)

    @expose("/<name>/wsdl")
    @requires("can_read")
    def wsdl(self, name: str) -> Any:
        with runtime().db.sessions() as session:
            found = integration.adapter(session, current_actor(), name)
            text = found.system.wsdl_text
            if text is None:
                text = contract_file(found.config.wsdl_file).read_text(encoding="utf-8")
        return Response(text, 200, {"Content-Type": "text/xml; charset=utf-8", "X-Content-Type-Options": "nosniff",
                                    "Content-Disposition": f'attachment; filename="{name}.wsdl"'})  # fmt: skip

    @expose("/systems", methods=["POST"])
    @requires("can_edit")
    def upload(self) -> Any:
        file = request.files.get("wsdl")
        if file is None or not file.filename:
            raise InputError(str(_l("choose the system's WSDL file")))  # words of the console's catalogue
        name = (request.form.get("name") or "").strip()
        with runtime().db.transaction() as session:
            systems.upload_system(session, current_actor(), name, request.form.get("title") or "",
                                  request.form.get("title_en") or "", file.stream.read(512 * 1024 + 1))  # fmt: skip
        systems.refresh_registry()
        title = request.form.get("title") or name
        flash(str(_l("%(system)s added. Map its operations, set its endpoint, then test it.", system=title)), "success")
        return redirect(url_for("AdaptersView.show", name=name), 303)

    @expose("/<name>/operations", methods=["POST"])
    @requires("can_edit")
    def map_operation(self, name: str) -> Any:
        form = request.form
        operation = f"{name}.{(form.get('operation') or '').strip()}"
        with runtime().db.transaction() as session:
            systems.map_operation(session, current_actor(), name, operation, form.get("soap_operation") or "",
                                  probe={} if form.get("probe") == "1" else None)  # fmt: skip
        systems.refresh_registry()
        flash(str(_l("%(operation)s can now be named in BPMN service tasks.", operation=operation)), "success")
        return redirect(url_for("AdaptersView.show", name=name), 303)
