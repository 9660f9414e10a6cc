"""The signed-in account's own password: chosen anew after a reset, or whenever its holder wishes."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from huiju.errors import HuijuError
from huiju.services import users
from huiju.web.runtime import runtime
from officer_console.security import home_url, locale


class AccountView(BaseView):  # type: ignore[misc]
    route_base = "/account"
    default_view = "password"

    @expose("/password", methods=["GET", "POST"])
    def password(self) -> Any:
        # Not behind `requires`: that sends an account that must change its password here.
        if not current_user.is_authenticated:
            return redirect(url_for("AuthView.login"))
        error = None
        if request.method == "POST":
            new, again = request.form.get("new") or "", request.form.get("again") or ""
            if new != again:
                error = str(_l("The two new passwords differ."))
            else:
                try:
                    with runtime().db.transaction() as session:
                        users.change_own_password(session, current_user.username, request.form.get("current") or "",
                                                  new)  # fmt: skip
                except HuijuError as exc:
                    error = exc.localized(locale())
                else:
                    current_user.must_change_password = False
                    flash(str(_l("Your password is changed.")), "success")
                    return redirect(home_url(current_user.actor), 303)
        page = self.render_template("console/admin/password.html", error=error,
                                    forced=current_user.must_change_password)  # fmt: skip
        return page, (400 if error else 200)
