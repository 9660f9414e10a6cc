"""The residents' help page (使用帮助), and the password a resident must choose after an administrator
reset theirs (every other page leads there until they do)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from huiju.errors import HuijuError
from huiju.services import users
from huiju.web.runtime import runtime
from portal.auth import resident_required, signed_in
from portal.i18n import Translator


def register_help_views(bp: Blueprint, translator: Translator) -> None:
    _ = translator.gettext

    @bp.route("/help")
    def help_page() -> ResponseReturnValue:
        return render_template("portal/help.html")

    @bp.route("/account/password", methods=["GET", "POST"])
    @resident_required
    def password() -> ResponseReturnValue:
        account = signed_in()
        error = None
        if request.method == "POST":
            new = request.form.get("new", "")
            if new != request.form.get("again", ""):
                error = _("The two passwords are not the same.")
            else:
                try:
                    with runtime().db.transaction() as db:
                        users.change_own_password(db, account.actor.username, request.form.get("current", ""), new)
                except HuijuError as exc:
                    error = translator.message(exc.text)
                else:
                    g.portal_must_change = False
                    return redirect(url_for("portal.cases"), 303)
        forced = bool(g.get("portal_must_change"))
        return render_template("portal/password.html", error=error, forced=forced), (400 if error else 200)
