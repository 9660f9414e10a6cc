"""Accounts and roles (用户与角色), for administrators: list, create, change role or office, disable or
enable, reset a password. Each page calls one function of :mod:`huiju.services.users`."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from huiju.i18n import localized
from huiju.labels import label
from huiju.models import Org, Role
from huiju.services import offices, users
from huiju.web.runtime import runtime
from officer_console.security import current_actor, locale, requires


def _offices() -> list[Org]:
    with runtime().db.sessions() as session:
        return list(session.scalars(select(Org).order_by(Org.code)))


class UsersView(BaseView):  # type: ignore[misc]
    route_base = "/users"
    default_view = "index"

    @expose("/")
    @requires("can_read")
    def index(self) -> Any:
        query, role = request.args.get("q") or None, request.args.get("role") or None
        with runtime().db.sessions() as session:
            found = users.list_users(session, current_actor(), query=query, role=role)
            page = self.render_template(
                "console/admin/users.html", users=found, query=query or "", role=role or "", roles=list(Role),
                offices=_offices(), office_levels=localized(offices.LEVELS, locale()), label=label, locale=locale(),
            )  # fmt: skip
        return page

    @expose("/", methods=["POST"])
    @requires("can_edit")
    def create(self) -> Any:
        form = request.form
        new = users.NewAccount(
            username=form.get("username") or "",
            role=form.get("role") or "",
            display_name=form.get("display_name") or "",
            office=form.get("office") or None,
            resident_id_number=form.get("resident") or None,
        )
        with runtime().db.transaction() as session:
            created = users.create_user(session, current_actor(), new)
            username = created.user.username
        flash(str(_l("Account %(user)s created. Temporary password, shown only now: %(password)s",
                     user=username, password=created.temporary_password)), "success")  # fmt: skip
        return redirect(url_for("UsersView.show", username=username), 303)

    @expose("/<username>")
    @requires("can_read")
    def show(self, username: str) -> Any:
        with runtime().db.sessions() as session:
            user = users.get_user(session, current_actor(), username)
            page = self.render_template(
                "console/admin/user.html", user=user, roles=list(Role), offices=_offices(),
                office_levels=localized(offices.LEVELS, locale()), label=label, locale=locale(),
            )  # fmt: skip
        return page

    @expose("/<username>", methods=["POST"])
    @requires("can_edit")
    def update(self, username: str) -> Any:
        form = request.form
        with runtime().db.transaction() as session:
            users.update_user(session, current_actor(), username, role=form.get("role") or None,
                              office=form.get("office"), display_name=form.get("display_name"))  # fmt: skip
        flash(str(_l("Account %(user)s changed.", user=username)), "success")
        return redirect(url_for("UsersView.show", username=username), 303)

    @expose("/<username>/disable", methods=["POST"])
    @requires("can_edit")
    def disable(self, username: str) -> Any:
        with runtime().db.transaction() as session:
            users.disable_user(session, current_actor(), username, request.form.get("reason") or "")
        flash(str(_l("Account %(user)s disabled: it is signed out everywhere.", user=username)), "success")
        return redirect(url_for("UsersView.show", username=username), 303)

    @expose("/<username>/enable", methods=["POST"])
    @requires("can_edit")
    def enable(self, username: str) -> Any:
        with runtime().db.transaction() as session:
            users.enable_user(session, current_actor(), username)
        flash(str(_l("Account %(user)s enabled.", user=username)), "success")
        return redirect(url_for("UsersView.show", username=username), 303)

    @expose("/<username>/reset-password", methods=["POST"])
    @requires("can_edit")
    def reset_password(self, username: str) -> Any:
        with runtime().db.transaction() as session:
            password = users.reset_password(session, current_actor(), username)
        flash(str(_l("Temporary password of %(user)s, shown only now: %(password)s. It must be changed at the "
                     "next sign-in.", user=username, password=password)), "success")  # fmt: skip
        return redirect(url_for("UsersView.show", username=username), 303)
