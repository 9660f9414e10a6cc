"""The resident roster import (居民信息导入) for administrators: upload a CSV or XLSX file (or try it
first as a dry run), watch the progress bar while it is applied in chunks, read the report of every
refused row and why. Each request calls one function of :mod:`huiju.services.roster`."""

from __future__ import annotations

from typing import Any

from flask import jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from huiju.errors import InputError
from huiju.services import roster
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires


def _progress(job: Any) -> dict[str, Any]:
    return {
        "processed": job.processed, "accepted": len(job.rows), "total": job.total, "done": job.status.value == "done",
        "added": job.added, "updated": job.updated, "unchanged": job.unchanged, "refused": len(job.refusals),
    }  # fmt: skip


class RosterView(BaseView):  # type: ignore[misc]
    route_base = "/roster"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        with runtime().db.sessions() as session:
            recent = roster.recent_imports(session, current_actor())
            page = self.render_template("console/admin/roster.html", imports=recent, headings=roster.HEADINGS)
        return page

    @expose("/", methods=["POST"])
    @requires("can_edit")
    def upload(self) -> Any:
        file = request.files.get("file")
        if file is None or not file.filename:
            raise InputError(str(_l("choose the roster file to import")))  # words of the console's catalogue
        data = file.stream.read(roster.MAX_FILE_BYTES + 1)
        with runtime().db.transaction() as session:
            job = roster.start_import(session, current_actor(), file.filename, data,
                                      dry_run=request.form.get("dry_run") == "1")  # fmt: skip
            job_id = job.id
        return redirect(url_for("RosterView.show", import_id=job_id), 303)

    @expose("/<int:import_id>")
    @requires("can_read")
    def show(self, import_id: int) -> Any:
        with runtime().db.sessions() as session:
            job = roster.get_import(session, current_actor(), import_id)
            page = self.render_template("console/admin/roster_import.html", job=job, progress=_progress(job),
                                        reason_text=roster.reason_text, locale=locale())  # fmt: skip
        return page

    @expose("/<int:import_id>/step", methods=["POST"])
    @requires("can_edit")
    def step(self, import_id: int) -> Any:
        """One chunk more; the page's script calls it until the import is done (JSON progress)."""
        with runtime().db.transaction() as session:
            job = roster.apply_chunk(session, current_actor(), import_id)
            body = _progress(job)
        if request.accept_mimetypes.best == "application/json":
            return jsonify(body)
        return redirect(url_for("RosterView.show", import_id=import_id), 303)
