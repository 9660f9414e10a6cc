"""The portal's pages. Views stay thin: check input, call one service in a session, render.

A page that shows a resident's data needs a signed-in resident (else a redirect to the login page);
a case that is not the resident's own answers 404, exactly like a case that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException, NotFound

from huiju.api.runtime import runtime
from huiju.errors import NotFoundError, PermissionDenied
from huiju.labels import label
from huiju.models import CaseStatus
from portal import security
from portal.forms import LoginForm
from portal.i18n import LANG_KEY, LOCALES, Translator, chosen_locale
from portal.services import Account, case_view, catalogue, item_entry, load_account, my_cases, sign_in

USER_KEY = "portal_user"
DISPLAY_KEY = "portal_display"
DISPLAYS = ("standard", "large")
#: What survives signing in and out: the resident's language and display choices.
PREFERENCES = (LANG_KEY, DISPLAY_KEY)

F = TypeVar("F", bound=Callable[..., Any])


def current_account() -> Account | None:
    return cast(Account | None, g.get("portal_account"))


def resident_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def _safe_next(target: str | None) -> str:
    """Only a path inside the portal: never another site (open redirect) or a scheme-relative URL."""
    home = url_for("portal.home")
    if not target:
        return home
    parts = urlsplit(target)
    prefix = url_for("portal.home").rstrip("/") + "/"
    if parts.scheme or parts.netloc or "\\" in target or not target.startswith(prefix) or target.startswith("//"):
        return home
    return target


def _restart_session(**values: str) -> None:
    # A new session on sign-in and sign-out (no fixation), keeping only the display preferences.
    kept = {key: session[key] for key in PREFERENCES if key in session}
    session.clear()
    session.update(kept)
    session.update(values)


def create_portal_blueprint(limiter: Limiter, translator: Translator) -> Blueprint:
    bp = Blueprint("portal", __name__, template_folder="templates", static_folder="static")
    _ = translator.gettext  # the name pybabel extracts from

    @bp.before_request
    def choose_language() -> ResponseReturnValue | None:
        lang = request.args.get("lang")
        if lang is None or request.method != "GET":
            return None
        if lang in LOCALES:
            session[LANG_KEY] = lang
        values: dict[str, Any] = dict(request.view_args or {})
        values.update((k, v) for k, v in request.args.items() if k != "lang")
        return redirect(url_for(request.endpoint or "portal.home", **values))

    bp.before_request(security.check_csrf)

    @bp.before_request
    def load_signed_in() -> None:
        username = session.get(USER_KEY)
        if not isinstance(username, str):
            return
        try:
            with runtime().db.sessions() as db:
                g.portal_account = load_account(db, username)
        except (NotFoundError, PermissionDenied):
            _restart_session()  # the account was deactivated since: signed out

    @bp.context_processor
    def template_helpers() -> dict[str, Any]:
        locale = chosen_locale()
        return {
            "_": translator.gettext,
            "msg": translator.message,
            "fmt_date": translator.date,
            "fmt_datetime": translator.datetime,
            "status_label": lambda code: label("status", code, locale),
            "outcome_label": lambda code: label("outcome", code, locale) if code else "",
            "timeline_label": lambda code: label("timeline", code, locale),
            "decision_label": lambda code: label("decision", code, locale) if code else "",
            "csrf_token": generate_csrf,
            "account": current_account(),
            "locale": locale,
            "html_lang": "zh-CN" if locale == "zh_CN" else "en",
            "other_locale": "en" if locale == "zh_CN" else "zh_CN",
            "display": session.get(DISPLAY_KEY, "standard"),
        }

    @bp.get("/")
    @resident_required
    def home() -> ResponseReturnValue:
        account = cast(Account, current_account())
        with runtime().db.sessions() as db:
            cases = my_cases(db, account)
            waiting = [c for c in cases if c.status is CaseStatus.AWAITING_SUPPLEMENT]
            return render_template("portal/home.html", cases=cases[:3], waiting=waiting)

    def login() -> ResponseReturnValue:
        form = LoginForm()
        error = None
        if form.validate_on_submit():
            try:
                with runtime().db.sessions() as db:
                    account = sign_in(db, form.login.data or "", form.password.data or "")
            except PermissionDenied as exc:
                security.mark_login_failed()
                error = translator.message(exc.text)
            else:
                _restart_session(**{USER_KEY: account.actor.username})
                return redirect(_safe_next(request.args.get("next")))
        elif request.method == "POST":
            error = _("Please enter your user name or phone number, and your password.")
        return render_template("portal/login.html", form=form, error=error)

    # Failed sign-ins only are counted, per account and per client address (configurable limits).
    per_address = limiter.limit(
        lambda: current_app.config.get("PORTAL_LOGIN_LIMIT_ADDRESS", security.DEFAULT_ADDRESS_LIMIT),
        key_func=security.address_key,
        methods=["POST"],
        deduct_when=security.login_failed,
    )
    per_account = limiter.limit(
        lambda: current_app.config.get("PORTAL_LOGIN_LIMIT_ACCOUNT", security.DEFAULT_ACCOUNT_LIMIT),
        key_func=security.account_key,
        methods=["POST"],
        deduct_when=security.login_failed,
    )
    bp.add_url_rule("/login", "login", per_account(per_address(login)), methods=["GET", "POST"])

    @bp.post("/logout")
    def logout() -> ResponseReturnValue:
        _restart_session()
        return redirect(url_for("portal.login"))

    @bp.post("/display")
    def display() -> ResponseReturnValue:
        choice = request.form.get("display")
        if choice in DISPLAYS:
            session[DISPLAY_KEY] = choice
        return redirect(_safe_next(request.form.get("next")))

    @bp.get("/items")
    def items() -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            groups = catalogue(db)
            return render_template("portal/catalogue.html", groups=groups)

    @bp.get("/items/<code>")
    def item(code: str) -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            entry = item_entry(db, code)
            return render_template("portal/item.html", entry=entry)

    @bp.get("/cases")
    @resident_required
    def cases() -> ResponseReturnValue:
        account = cast(Account, current_account())
        with runtime().db.sessions() as db:
            found = my_cases(db, account)
            return render_template("portal/cases.html", cases=found)

    @bp.get("/cases/<number>")
    @resident_required
    def case(number: str) -> ResponseReturnValue:
        account = cast(Account, current_account())
        with runtime().db.sessions() as db:
            view = case_view(db, account, number)
            return render_template("portal/case.html", view=view)

    @bp.route("/<path:unknown>", methods=["GET", "POST"])
    def unknown(unknown: str) -> ResponseReturnValue:
        raise NotFound()

    def error_page(status: int, title: str, text: str) -> ResponseReturnValue:
        return render_template("portal/error.html", status=status, title=title, text=text), status

    @bp.errorhandler(NotFoundError)
    @bp.errorhandler(404)
    def not_found(_exc: Exception) -> ResponseReturnValue:
        return error_page(
            404,
            _("Not found"),
            _("There is no such page, or no case of yours with this number."),
        )

    @bp.errorhandler(CSRFError)
    def bad_token(_exc: CSRFError) -> ResponseReturnValue:
        return error_page(
            400,
            _("The form has expired"),
            _("The page was open too long or came from elsewhere. Go back, reload it and try again."),
        )

    @bp.errorhandler(RateLimitExceeded)
    def too_many(_exc: RateLimitExceeded) -> ResponseReturnValue:
        return error_page(
            429,
            _("Too many failed attempts"),
            _(
                "Signing in failed too many times. Wait 15 minutes and try again, "
                "or ask your community service centre to reset your password."
            ),
        )

    @bp.errorhandler(PermissionDenied)
    def forbidden(exc: PermissionDenied) -> ResponseReturnValue:
        return error_page(403, _("Not allowed"), translator.message(exc.text))

    @bp.errorhandler(HTTPException)
    def other_http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        return error_page(status, _("Something went wrong"), exc.name or "")

    return bp
