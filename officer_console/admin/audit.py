"""The audit trail (审计日志) for administrators: search, export as CSV, verify the chain."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose

from huiju.labels import label
from huiju.services import audit, audit_trail, audit_words
from huiju.services.calendar_admin import parse_day
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires

PAGE = 100


def _filters() -> audit_trail.AuditFilter:
    args = request.args

    def day(name: str) -> Any:
        value = (args.get(name) or "").strip()
        return parse_day(value) if value else None

    return audit_trail.AuditFilter(
        actor=args.get("actor") or None, action=args.get("action") or None, case_number=args.get("case") or None,
        target=args.get("target") or None, id_number=args.get("id_number") or None, since=day("since"),
        until=day("until"),
    )  # fmt: skip


class AuditView(BaseView):  # type: ignore[misc]
    route_base = "/audit"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        filters = _filters()
        offset = max(request.args.get("offset", type=int) or 0, 0)
        with runtime().db.sessions() as session:
            entries = audit_trail.search(session, current_actor(), filters, limit=PAGE, offset=offset)
            words = audit_words.entry_words(session, entries, locale())
        return self.render_template(
            "console/admin/audit.html", entries=entries, words=words, filters=filters, args=request.args, offset=offset,
            query={k: v for k, v in request.args.items() if k != "offset" and v},
            page=PAGE, actions=audit.ACTIONS, action_label=audit.action_label, channel_label=audit.channel_label,
            label=label, locale=locale(),
        )  # fmt: skip

    @expose("/export.csv")
    @requires("can_read")
    def export(self) -> Any:
        body = audit_trail.export_csv(runtime().db, current_actor(), _filters(), locale())
        return Response(body, 200, {"Content-Type": "text/csv; charset=utf-8",
                                    "Content-Disposition": 'attachment; filename="audit.csv"'})  # fmt: skip

    @expose("/verify", methods=["POST"])
    @requires("can_read")
    def verify(self) -> Any:
        report = audit_trail.verify_as(runtime().db, current_actor())
        flash(report.summary().localize(locale()), "success" if report.ok else "danger")
        return redirect(url_for("AuditView.index"), 303)
