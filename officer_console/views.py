"""The console's pages. Each reads its input, calls one service function in a transaction, and
renders; scoping, checks and errors are the services' (a case of another community is "not found")."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from huiju import forms
from huiju.calendar import CHINA
from huiju.errors import InputError, NotFoundError
from huiju.i18n import _, localized
from huiju.labels import label, standard_opinion
from huiju.models import Case, CaseStatus
from huiju.services import (
    audit,
    calendar_admin,
    casefile,
    dashboard,
    decisions,
    documents,
    incidents,
    materials,
    worklist,
)
from huiju.services import cases as case_service
from huiju.services import tasks as task_service
from huiju.services.casefile_words import china_time
from huiju.web.downloads import attachment, pdf_download
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires
from workflows_bpmn.models import HumanTask


def _date_arg(name: str) -> date | None:
    value = (request.args.get(name) or "").strip()
    return calendar_admin.parse_day(value) if value else None


def _back(default: str) -> Response:
    """Back to the page the form came from: a path of this site only, never an open redirect."""
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = default
    return redirect(target, 303)  # type: ignore[return-value]


def _inbox_args(filters: worklist.InboxFilter) -> dict[str, str]:
    """The query of an inbox page without its cursor: for the links to the next and previous page."""
    args = {
        "item": filters.item or "",
        "status": filters.status or "",
        "applicant": filters.applicant or "",
        "due_before": filters.due_before.isoformat() if filters.due_before else "",
        "sort": filters.sort,
        "order": "desc" if filters.descending else "",
    }
    return {key: value for key, value in args.items() if value}


class InboxView(BaseView):  # type: ignore[misc]
    route_base = "/inbox"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        actor = current_actor()
        filters = worklist.InboxFilter(
            item=request.args.get("item") or None,
            status=request.args.get("status") or None,
            applicant=request.args.get("applicant") or None,
            due_before=_date_arg("due_before"),
            sort=request.args.get("sort") or "due",
            descending=request.args.get("order") == "desc",
            after=request.args.get("after") or None,
            before=request.args.get("before") or None,
        )
        with runtime().db.sessions() as session:
            found = worklist.inbox_page(session, actor, filters)
            items = worklist.item_choices(session)
            page = self.render_template(
                "console/inbox.html", rows=found.rows, page=found, filters=found.filters, items=items, actor=actor,
                statuses=[s.value for s in CaseStatus], label=label, locale=locale(),
                page_url=lambda **cursor: url_for("InboxView.index", **{**_inbox_args(found.filters), **cursor}),
            )  # fmt: skip
        return page

    @expose("/<task_id>/claim", methods=["POST"])
    @requires("can_claim")
    def claim(self, task_id: str) -> Any:
        with runtime().db.transaction() as session:
            task_service.claim_task(session, current_actor(), task_id)
        flash(str(_l("Task claimed: it is yours now.")), "success")
        return _back(url_for("InboxView.index"))

    @expose("/<task_id>/release", methods=["POST"])
    @requires("can_claim")
    def release(self, task_id: str) -> Any:
        with runtime().db.transaction() as session:
            task_service.release_task(session, current_actor(), task_id)
        flash(str(_l("Task released to the queue.")), "success")
        return _back(url_for("InboxView.index"))

    @expose("/<task_id>/transfer", methods=["POST"])
    @requires("can_claim")
    def transfer(self, task_id: str) -> Any:
        with runtime().db.transaction() as session:
            task = task_service.transfer_task(
                session, current_actor(), task_id, request.form.get("to") or "", request.form.get("reason") or ""
            )
            to = task.assignee
        flash(str(_l("Task transferred to %(user)s.", user=to)), "success")
        return redirect(url_for("InboxView.index"), 303)


class CaseView(BaseView):  # type: ignore[misc]
    route_base = "/cases"
    default_view = "incidents"

    @expose("/<number>")
    @requires("can_read")
    def show(self, number: str) -> Any:
        actor = current_actor()
        lang = locale()
        with runtime().db.sessions() as session:
            file = casefile.read_case_file(session, actor, number, lang)
            mine: list[tuple[HumanTask, decisions.DecisionOptions | None]] = []
            for task in file.tasks:
                if task.status.value != "ready" or not actor.is_officer or task.role != actor.role.value:
                    continue
                if task.assignee not in (None, actor.username):
                    mine.append((task, None))
                    continue
                mine.append((task, decisions.decision_options(session, runtime().engine, actor, task, lang)))
            colleagues = [(u.username, u.display_name) for u in task_service.colleagues(session, actor)]
            page = self.render_template(
                "console/case.html", file=file, actionable=mine, colleagues=colleagues, actor=actor,
                label=label, locale=lang, reasons=decisions.REFUSAL_REASONS, china_time=china_time,
                standard_opinion=standard_opinion, calendar_left=worklist.time_left_of(session, file.case),
                form_fields=forms.readable(file.case.form_schema, file.case.form_data, lang),
            )  # fmt: skip
            applicant = file.case.applicant_id
        audit.record_read(runtime().db, actor, "case.read", target_kind="case", target=number, case_number=number,
                          resident_id=applicant)  # fmt: skip
        return page

    @expose("/<number>/diagram.bpmn")
    @requires("can_read")
    def diagram(self, number: str) -> Any:
        with runtime().db.sessions() as session:
            xml = casefile.case_diagram(session, current_actor(), number, locale())
        return Response(
            xml, 200, {"Content-Type": "application/xml; charset=utf-8", "X-Content-Type-Options": "nosniff"}
        )

    @expose("/<number>/materials/<int:material_id>")
    @requires("can_read")
    def material(self, number: str, material_id: int) -> Any:
        """A material of the case, downloaded or (``?view=1``) shown, for those who may see the case."""
        rt = runtime()
        with rt.db.sessions() as session:
            actor = current_actor()
            casefile.case_material(session, actor, number, material_id)
            store = materials.UploadStore.from_settings(rt.settings)
            found, data = materials.open_material(session, store, actor, material_id)
            applicant = session.scalar(select(Case.applicant_id).where(Case.number == number))
        audit.record_read(rt.db, actor, "material.read", target_kind="material", target=str(material_id),
                          case_number=number, resident_id=applicant, detail=found.original_name)  # fmt: skip
        return attachment(found, data, view=request.args.get("view") == "1")

    @expose("/<number>/documents/<int:document_id>")
    @requires("can_read")
    def document(self, number: str, document_id: int) -> Any:
        """A written document of the case (文书), the signed PDF as issued (made now if the worker has not)."""
        rt = runtime()
        with rt.db.sessions() as session:
            found = casefile.case_document(session, current_actor(), number, document_id)
            name = documents.file_name(found)
        return pdf_download(name, documents.pdf_of(rt.db, rt.office_signer, found))

    @expose("/<number>/tasks/<task_id>/decide", methods=["POST"])
    @requires("can_decide")
    def decide(self, number: str, task_id: str) -> Any:
        actor = current_actor()
        decision = request.form.get("decision") or ""
        form = {key: (request.form.getlist(key) if key == "missing" else request.form.get(key)) for key in request.form}
        rt = runtime()
        with rt.db.transaction() as session:
            case = case_service.get_case(session, actor, number)  # the URL names a case the officer sees
            if task_service.get_task(session, actor, task_id).case_id != case.id:
                raise NotFoundError(_("no task {task_id} in case {number}", task_id=task_id, number=number))
            decisions.decide(session, rt.engine, actor, task_id, decision, form, locale())
        flash(str(_l("Decision recorded: %(decision)s", decision=label("decision", decision, locale()))), "success")
        return redirect(url_for("CaseView.show", number=number), 303)

    @expose("/<number>/retry", methods=["POST"])
    @requires("can_retry")
    def retry(self, number: str) -> Any:
        rt = runtime()
        with rt.db.transaction() as session:
            sent = case_service.retry_incident(session, rt.engine, current_actor(), number)
        flash(str(_l("Sent again: %(count)s message(s).", count=len(sent))), "success")
        return redirect(url_for("CaseView.show", number=number), 303)

    @expose("/incidents")
    @requires("can_incidents")
    def incidents(self) -> Any:
        with runtime().db.sessions() as session:
            found = incidents.list_incidents(session, current_actor())
            page = self.render_template(
                "console/incidents.html", incidents=found, label=label, locale=locale(), china=CHINA
            )
        return page


class DashboardView(BaseView):  # type: ignore[misc]
    route_base = "/dashboard"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        error = None
        try:
            start, end = dashboard.date_range(_date_arg("start"), _date_arg("end"))
        except InputError as exc:
            error = exc.localized(locale())
            start, end = dashboard.date_range(None, None)
        with runtime().db.sessions() as session:
            figures = dashboard.figures(session, current_actor(), start=start, end=end)
        return self.render_template("console/dashboard.html", figures=figures, locale=locale(), error=error)


class CalendarView(BaseView):  # type: ignore[misc]
    route_base = "/calendar"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        year = request.args.get("year", type=int) or worklist.today_in_china().year + 1
        with runtime().db.sessions() as session:
            state = calendar_admin.year_schedule(session, year)
        return self.render_template("console/calendar.html", state=state,
                                    day_kinds=localized(calendar_admin.DAY_KINDS, locale()))  # fmt: skip

    @expose("/days", methods=["POST"])
    @requires("can_edit")
    def add_day(self) -> Any:
        day = calendar_admin.parse_day(request.form.get("day") or "")
        rt = runtime()
        with rt.db.transaction() as session:
            report = calendar_admin.set_day(
                session, rt.engine, current_actor(), day, request.form.get("kind") or "", request.form.get("name") or ""
            )
        flash(str(_l("Saved. Deadlines recomputed: %(count)s.", count=report.recomputed)), "success")
        return redirect(url_for("CalendarView.index", year=day.year), 303)

    @expose("/days/remove", methods=["POST"])
    @requires("can_edit")
    def remove_day(self) -> Any:
        day = calendar_admin.parse_day(request.form.get("day") or "")
        rt = runtime()
        with rt.db.transaction() as session:
            report = calendar_admin.remove_day(session, rt.engine, current_actor(), day)
        flash(str(_l("Removed. Deadlines recomputed: %(count)s.", count=report.recomputed)), "success")
        return redirect(url_for("CalendarView.index", year=day.year), 303)

    @expose("/publish", methods=["POST"])
    @requires("can_edit")
    def publish(self) -> Any:
        year = calendar_admin.parse_year(request.form.get("year") or "")
        rt = runtime()
        with rt.db.transaction() as session:
            report = calendar_admin.publish_year(session, rt.engine, current_actor(), year)
        flash(str(_l("%(year)s published. Deadlines recomputed: %(count)s.", year=year, count=report.recomputed)),
              "success")  # fmt: skip
        return redirect(url_for("CalendarView.index", year=year), 303)

    @expose("/import", methods=["POST"])
    @requires("can_edit")
    def import_year(self) -> Any:
        year = calendar_admin.parse_year(request.form.get("year") or "")
        rt = runtime()
        with rt.db.transaction() as session:
            schedule = request.form.get("schedule") or ""
            report = calendar_admin.import_schedule(session, rt.engine, current_actor(), year, schedule)
        flash(
            str(_l("%(year)s: %(days)s days entered. Deadlines recomputed: %(count)s.",
                   year=year, days=report.days, count=report.recomputed)),
            "success",
        )  # fmt: skip
        return redirect(url_for("CalendarView.index", year=year), 303)
