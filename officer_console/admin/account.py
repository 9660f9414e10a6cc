"""The signed-in account's own password (修改密码): chosen anew after an administrator's reset, or
whenever its holder wishes. A new password ends every session of the account; this browser goes on
in a new one."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from huiju.errors import InputError, PermissionDenied
from huiju.services.accounts import change_password
from huiju.web.runtime import runtime
from huiju.web.sessions import regenerate_session
from officer_console.security import home_url, locale


class AccountView(BaseView):  # type: ignore[misc]
    route_base = "/account"
    default_view = "password"

    @expose("/password", methods=["GET", "POST"])
    def password(self) -> Any:
        # Not behind `requires`: that sends an account that must change its password here.
        if not current_user.is_authenticated:
            return redirect(url_for("AuthView.login", next=request.full_path))
        error = None
        if request.method == "POST":
            new = request.form.get("new_password") or ""
            if new != (request.form.get("new_password2") or ""):
                error = str(_l("The two new passwords are not the same."))
            else:
                current = request.form.get("current_password") or ""
                try:
                    change_password(runtime().db, current_user.username, current, new)
                except (InputError, PermissionDenied) as exc:
                    error = exc.localized(locale())
                else:
                    current_user.must_change_password = False
                    regenerate_session()  # every other session of the account ended
                    flash(str(_l("Your password is changed; you are signed out everywhere else.")), "success")
                    return redirect(home_url(current_user.actor))
        page = self.render_template("console/password.html", error=error, forced=current_user.must_change_password)
        return page, (400 if error else 200)
