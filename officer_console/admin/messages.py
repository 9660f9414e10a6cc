"""The message log (报文日志) for integrators: search by case, system, operation, status and date; read
one message's signed XML with its verification result; send a dead message again; verify the chain.
Each request calls one function of :mod:`huiju.services.message_log` or :mod:`huiju.services.messages`."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l

from huiju.labels import label
from huiju.services import message_log, messages
from huiju.services.calendar_admin import parse_day
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires

PAGE = 100


def _filters() -> message_log.LogFilter:
    args = request.args

    def day(name: str) -> Any:
        value = (args.get(name) or "").strip()
        return parse_day(value) if value else None

    return message_log.LogFilter(
        message_id=(args.get("message_id") or "").strip() or None, case_number=(args.get("case") or "").strip() or None,
        system=args.get("system") or None, operation=args.get("operation") or None,
        outcome=args.get("outcome") or None, direction=args.get("direction") or None, since=day("since"),
        until=day("until"),
    )  # fmt: skip


class MessageLogView(BaseView):  # type: ignore[misc]
    route_base = "/messages"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        offset = max(request.args.get("offset", type=int) or 0, 0)
        actor = current_actor()
        with runtime().db.sessions() as session:
            entries = message_log.search(session, actor, _filters(), limit=PAGE, offset=offset)
            dead = message_log.dead_messages(session, actor)
            page = self.render_template(
                "console/admin/messages.html", entries=entries, dead=dead, args=request.args, offset=offset, page=PAGE,
                facets=message_log.facets(session), words=message_log.words, m=message_log, locale=locale(),
                label=label,
                query={k: v for k, v in request.args.items() if k != "offset" and v},
            )  # fmt: skip
        return page

    @expose("/<int:entry_id>")
    @requires("can_read")
    def show(self, entry_id: int) -> Any:
        with runtime().db.sessions() as session:
            found = message_log.read_entry(session, current_actor(), entry_id)
            page = self.render_template("console/admin/message.html", view=found, words=message_log.words,
                                        m=message_log, locale=locale(), label=label)  # fmt: skip
        return page

    @expose("/retry/<message_id>", methods=["POST"])
    @requires("can_retry")
    def retry(self, message_id: str) -> Any:
        rt = runtime()
        with rt.db.transaction() as session:
            messages.retry_message(session, rt.engine, current_actor(), message_id)
        flash(str(_l("Sent again with the same message id: %(message)s", message=message_id)), "success")
        return redirect(url_for("MessageLogView.index", message_id=message_id), 303)

    @expose("/verify", methods=["POST"])
    @requires("can_read")
    def verify(self) -> Any:
        report = message_log.verify_chain(runtime().db, current_actor())
        flash(report.summary().localize(locale()), "success" if report.ok else "danger")
        return redirect(url_for("MessageLogView.index"), 303)
