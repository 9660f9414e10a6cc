"""Cases for administrators (办件查询与运行管理): search; one case's process, with suspend, resume,
move to another step and migration to another version (a dry run first); and the migration of
every running case of a version, dry run first."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from huiju.labels import label
from huiju.models import CaseStatus, Item, Org, OrgLevel
from huiju.services import casefile_words, running
from huiju.services.calendar_admin import parse_day
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires


def _day(name: str) -> Any:
    value = (request.args.get(name) or "").strip()
    return parse_day(value) if value else None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


#: The case's latest timeline entries on its running-case page (the whole timeline is on the case's page).
RECENT_EVENTS = 15


class RunningCasesView(BaseView):  # type: ignore[misc]
    route_base = "/running"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        args = request.args
        query = running.CaseQuery(
            number=args.get("number", ""), applicant=args.get("applicant", ""), item=args.get("item", ""),
            status=args.get("status", ""), community=args.get("community", ""), submitted_from=_day("from"),
            submitted_to=_day("to"), definition_id=_int(args.get("definition")), page=_int(args.get("page")) or 1,
        )  # fmt: skip
        with runtime().db.sessions() as session:
            found = running.search_cases(session, current_actor(), query)
            items = session.query(Item).order_by(Item.code).all()
            communities = session.query(Org).filter(Org.level == OrgLevel.COMMUNITY).order_by(Org.code).all()
            page = self.render_template(
                "console/processes/search.html", found=found, query=query, items=items, communities=communities,
                statuses=[s.value for s in CaseStatus], label=label, locale=locale(), args=args,
            )  # fmt: skip
        return page

    @expose("/<number>")
    @requires("can_read")
    def case(self, number: str) -> Any:
        rt = runtime()
        check = None
        with rt.db.sessions() as session:
            found = running.running_case(session, rt.engine, current_actor(), number)
            target = _int(request.args.get("to"))
            if target is not None:  # the dry run of a migration to that version
                check = running.check_case_migration(session, rt.engine, current_actor(), number, target)
            lang = locale()
            recent = casefile_words.officer_timeline(session, found.case, lang)[-RECENT_EVENTS:][::-1]
            page = self.render_template("console/processes/running_case.html", found=found, check=check,
                                        target=target, label=label, locale=lang, recent=recent)  # fmt: skip
        return page

    def _operate(self, number: str, operation: str) -> Any:
        rt, actor, form = runtime(), current_actor(), request.form
        with rt.db.transaction() as session:
            if operation == "suspend":
                running.suspend_case(session, rt.engine, actor, number, form.get("reason") or "")
                done = _l("Case suspended: no timer fires and no call is sent until it is resumed.")
            elif operation == "resume":
                running.resume_case(session, rt.engine, actor, number, form.get("reason") or "")
                done = _l("Case resumed.")
            elif operation == "move":
                to_step, reason = form.get("to_step") or "", form.get("reason") or ""
                running.move_case(session, rt.engine, actor, number, to_step, reason, form.get("from_step") or None)
                done = _l("Case moved to the chosen step.")
            else:
                version = running.migrate_case(session, rt.engine, actor, number, _int(form.get("to")) or 0)
                done = _l("Case migrated to version %(version)s.", version=version)
        flash(str(done), "success")
        return redirect(url_for("RunningCasesView.case", number=number), 303)

    @expose("/<number>/suspend", methods=["POST"])
    @requires("can_edit")
    def suspend(self, number: str) -> Any:
        return self._operate(number, "suspend")

    @expose("/<number>/resume", methods=["POST"])
    @requires("can_edit")
    def resume(self, number: str) -> Any:
        return self._operate(number, "resume")

    @expose("/<number>/move", methods=["POST"])
    @requires("can_edit")
    def move(self, number: str) -> Any:
        return self._operate(number, "move")

    @expose("/<number>/migrate", methods=["POST"])
    @requires("can_edit")
    def migrate(self, number: str) -> Any:
        return self._operate(number, "migrate")

    @expose("/migration", methods=["GET", "POST"])
    @requires("can_edit")
    def migration(self) -> Any:
        """Every running case of a version: the dry run (GET), then the migration of those that can (POST)."""
        rt, actor = runtime(), current_actor()
        source = _int(request.values.get("from")) or 0
        target = _int(request.values.get("to")) or 0
        if request.method == "POST":
            report = running.migrate_version(rt.db, rt.engine, actor, source, target)
            flash(str(_l("%(moved)s case(s) migrated; %(refused)s left on their version.", moved=len(report.moved),
                         refused=len(report.refused))), "success" if not report.refused else "warning")  # fmt: skip
            back: dict[str, Any] = {"from": source, "to": target}
            return redirect(url_for("RunningCasesView.migration", **back), 303)
        with rt.db.sessions() as session:
            plan = running.migration_plan(session, rt.engine, actor, source, target)
            versions = running.version_pair(session, source, target)
            page = self.render_template("console/processes/migration.html", plan=plan, versions=versions,
                                        source=source, target=target, locale=locale())  # fmt: skip
        return page
