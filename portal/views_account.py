"""Registering a resident account: the identity verified by the citizen information system, the phone
by a code sent to it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter

from exchange.direct import call_now
from huiju.errors import AdapterError, ConflictError, InputError, PermissionDenied
from huiju.services.accounts import change_password
from huiju.services.registration import (
    Registration,
    communities,
    confirm_registration,
    pending_phone,
    start_registration,
)
from huiju.web.runtime import runtime
from portal import security
from portal.auth import USER_KEY, resident_required, restart_session, signed_in
from portal.i18n import Translator

#: Registrations tried per client address (each one may call the citizen information system).
DEFAULT_REGISTER_LIMIT = "10 per hour"
REGISTRATION_USER = "portal-registration"


PENDING_KEY = "registration"


def register_account_views(bp: Blueprint, limiter: Limiter, translator: Translator) -> None:
    _ = translator.gettext

    def secret() -> bytes:
        return str(current_app.secret_key).encode()

    def register() -> ResponseReturnValue:
        rt = runtime()
        error = None
        field = None
        if request.method == "POST":
            form = Registration(
                phone=request.form.get("phone", ""), name=request.form.get("name", ""),
                id_number=request.form.get("id_number", ""), password=request.form.get("password", ""),
                community_code=request.form.get("community") or None,
            )  # fmt: skip
            if form.password != request.form.get("password2", ""):
                error, field = _("The two passwords are not the same."), "password2"
            else:

                def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
                    return call_now(rt.db, operation, params, user_id=REGISTRATION_USER, security=rt.security)

                try:
                    token = start_registration(rt.db, call, form, secret())
                except (InputError, ConflictError, PermissionDenied) as exc:
                    error, field = translator.message(exc.text), str(exc.details.get("field", ""))
                except AdapterError:
                    current_app.logger.warning("registration: a government system did not answer")
                    error = _("The citizen information system cannot be reached now. Please try again later.")
                else:
                    session[PENDING_KEY] = token
                    return redirect(url_for("portal.register_confirm"))
        return render_template(
            "portal/register.html", error=error, field=field, form=request.form, communities=communities(rt.db)
        ), (400 if error else 200)

    def register_confirm() -> ResponseReturnValue:
        """The second step: the code sent by SMS to the phone; then the account is created."""
        token = session.get(PENDING_KEY)
        phone = pending_phone(runtime().db, token) if isinstance(token, str) else None
        if phone is None:
            session.pop(PENDING_KEY, None)
            return redirect(url_for("portal.register"))
        error = None
        if request.method == "POST":
            try:
                user = confirm_registration(runtime().db, str(token), request.form.get("code", ""), secret())
            except (InputError, ConflictError) as exc:
                error = translator.message(exc.text)
            else:
                restart_session(**{USER_KEY: user.username})
                flash(_("Welcome! Your account is ready; you sign in with your phone number."))
                return redirect(url_for("portal.home"))
        masked = f"{phone[:3]}****{phone[-4:]}"
        return render_template("portal/register_confirm.html", error=error, phone=masked), (400 if error else 200)

    @resident_required
    def password() -> ResponseReturnValue:
        """Change one's password; every session of the account ends, this one starts anew."""
        error = None
        if request.method == "POST":
            new = request.form.get("new_password", "")
            if new != request.form.get("new_password2", ""):
                error = _("The two passwords are not the same.")
            else:
                username = signed_in().actor.username
                try:
                    change_password(runtime().db, username, request.form.get("current_password", ""), new)
                except (InputError, PermissionDenied) as exc:
                    error = translator.message(exc.text)
                else:
                    g.portal_must_change = False
                    restart_session(**{USER_KEY: username})
                    flash(_("Your password is changed; you are signed out everywhere else."))
                    return redirect(url_for("portal.home"))
        forced = bool(g.get("portal_must_change"))  # after a reset by the community service centre
        page = render_template("portal/password.html", error=error, forced=forced)
        return page, (400 if error else 200)

    bp.add_url_rule("/account/password", "password", password, methods=["GET", "POST"])

    limited = limiter.limit(
        lambda: current_app.config.get("PORTAL_REGISTER_LIMIT", DEFAULT_REGISTER_LIMIT),
        key_func=security.address_key,
        methods=["POST"],
    )
    bp.add_url_rule("/register", "register", limited(register), methods=["GET", "POST"])
    bp.add_url_rule("/register/confirm", "register_confirm", limited(register_confirm), methods=["GET", "POST"])
