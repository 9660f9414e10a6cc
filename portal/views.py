"""The portal's pages. Views stay thin: check input, call one service in a session, render.

A page that shows a resident's data needs a signed-in resident (else a redirect to the login page);
a case that is not the resident's own answers 404, exactly like a case that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from huiju import forms
from huiju.errors import NotFoundError, PermissionDenied
from huiju.labels import label
from huiju.models import CaseStatus
from huiju.services.actors import find_user
from huiju.services.applications import list_drafts
from huiju.services.casefile_words import china_time
from huiju.services.documents import file_name, pdf_of
from huiju.services.item_search import MAX_QUERY
from huiju.web.downloads import pdf_download
from huiju.web.runtime import runtime
from huiju.web.sessions import preloaded_user
from huiju.web.signins import refused
from huiju.web.throttle import TooManyAttempts, throttle_of
from portal import security
from portal.auth import (
    DISPLAY_KEY,
    DISPLAYS,
    USER_KEY,
    current_account,
    resident_required,
    restart_session,
    safe_next,
    signed_in,
)
from portal.catalogue import in_locale
from portal.forms import LoginForm
from portal.i18n import LANG_KEY, LOCALES, Translator, chosen_locale
from portal.services import (
    account_of,
    case_document,
    case_view,
    catalogue,
    item_entry,
    my_cases,
    search_catalogue,
    sign_in,
)
from portal.views_account import register_account_views
from portal.views_apply import FieldErrors, register_apply_views
from portal.views_case import RATING_LEVELS, register_case_views
from portal.views_help import register_help_views
from portal.views_o2o import register_o2o_views

#: Room for the files of one form besides the fields (each file is capped on its own).
MAX_FILES_PER_POST = 8


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

    @bp.before_request
    def cap_request_size() -> None:
        # Werkzeug stops reading the body past this (413) before any file is parsed.
        request.max_content_length = runtime().settings.upload_max_bytes * MAX_FILES_PER_POST + 1024 * 1024

    bp.before_request(security.check_csrf)

    @bp.before_request
    def load_signed_in() -> None:
        username = session.get(USER_KEY)
        if not isinstance(username, str):
            return
        # Read with the session in the same statement, as a rule; read here when it was not.
        user = preloaded_user(username=username)
        if user is None:
            with runtime().db.sessions() as db:
                user = find_user(db, username)
        try:
            g.portal_account = account_of(user, username)
        except (NotFoundError, PermissionDenied):
            restart_session()  # the account was deactivated since: signed out
            return
        g.portal_must_change = bool(user and user.must_change_password)  # after a reset by an administrator
        g.portal_centre = user.org if user is not None else None

    def service_centre() -> Any:
        """The signed-in resident's community (its service phone from the organisation tree)."""
        account = current_account()
        if account is None or account.actor.org_id is None:
            return None
        return g.get("portal_centre")

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
            "document_label": lambda code: label("document", code, locale),
            "china_time": china_time,
            "csrf_token": generate_csrf,
            "account": current_account(),
            "service_centre": service_centre(),
            "locale": locale,
            "html_lang": "zh-CN" if locale == "zh_CN" else "en",
            "other_locale": "en" if locale == "zh_CN" else "zh_CN",
            "display": session.get(DISPLAY_KEY, "standard"),
            "text_of": lambda pair: in_locale(pair, locale),
            "item_name": lambda item: item.name if locale == "zh_CN" else (item.name_en or item.name),
            "material_name": lambda m: in_locale({"zh": m.get("name", ""), "en": m.get("name_en", "")}, locale),
            "form_fields": lambda case: forms.readable(case.form_schema, case.form_data, locale),
        }

    @bp.get("/")
    @resident_required
    def home() -> ResponseReturnValue:
        account = signed_in()
        with runtime().db.sessions() as db:
            cases = my_cases(db, account)
            waiting = [row.case for row in cases if row.case.status is CaseStatus.AWAITING_SUPPLEMENT]
            drafts = list_drafts(db, account.actor)
            return render_template("portal/home.html", cases=cases[:3], waiting=waiting, drafts=drafts)

    def login() -> ResponseReturnValue:
        form = LoginForm()
        error = None
        if form.validate_on_submit():
            throttle = throttle_of(current_app)
            account, address = security.account_key(form.login.data or ""), security.address_key()
            throttle.check(account, address)  # TooManyAttempts: the page below says how long to wait
            try:
                with runtime().db.sessions() as db:
                    signed = sign_in(db, form.login.data or "", form.password.data or "")
            except PermissionDenied as exc:
                throttle.failed(account, address)
                refused("portal", "wrong_password")
                error = translator.message(exc.text)
            else:
                throttle.succeeded(account)
                restart_session(**{USER_KEY: signed.actor.username})
                return redirect(safe_next(request.args.get("next")))
        elif request.method == "POST":
            error = _("Please enter your user name or phone number, and your password.")
        return render_template("portal/login.html", form=form, error=error)

    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])

    @bp.post("/logout")
    def logout() -> ResponseReturnValue:
        restart_session()
        return redirect(url_for("portal.login"))

    @bp.post("/display")
    def display() -> ResponseReturnValue:
        choice = request.form.get("display")
        if choice in DISPLAYS:
            session[DISPLAY_KEY] = choice
        return redirect(safe_next(request.form.get("next")))

    @bp.get("/items")
    def items() -> ResponseReturnValue:
        query = (request.args.get("q") or "").strip()[:MAX_QUERY]
        with runtime().db.sessions() as db:
            groups = catalogue(db)
            found = search_catalogue(db, query) if query else None
            return render_template("portal/catalogue.html", groups=groups, query=query, found=found)

    @bp.get("/items/<code>")
    def item(code: str) -> ResponseReturnValue:
        with runtime().db.sessions() as db:
            item = item_entry(db, code)
            return render_template("portal/item.html", item=item)

    @bp.get("/cases")
    @resident_required
    def cases() -> ResponseReturnValue:
        account = signed_in()
        with runtime().db.sessions() as db:
            found = my_cases(db, account)
            return render_template("portal/cases.html", cases=found)

    @bp.get("/cases/<number>")
    @resident_required
    def case(number: str) -> ResponseReturnValue:
        account = signed_in()
        with runtime().db.sessions() as db:
            view = case_view(db, account, number, chosen_locale())
            return render_template("portal/case.html", view=view, error=None, levels=RATING_LEVELS,
                                   errors=FieldErrors(), note="")  # fmt: skip

    @bp.get("/cases/<number>/documents/<int:document_id>")
    @resident_required
    def document(number: str, document_id: int) -> ResponseReturnValue:
        """A written document (文书) of the resident's case: the signed PDF as issued."""
        rt = runtime()
        with rt.db.sessions() as db:
            found = case_document(db, signed_in(), number, document_id)
            name = file_name(found)
        return pdf_download(name, pdf_of(rt.db, rt.office_signer, found))

    register_apply_views(bp, limiter, translator)
    register_case_views(bp, translator)
    register_account_views(bp, limiter, translator)
    register_o2o_views(bp, limiter, translator)
    register_help_views(bp, translator)

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
        if request.endpoint == "portal.login":
            refused("portal", "throttled")
        return error_page(
            429,
            _("Too many attempts"),
            _("Too many attempts from this address. Please wait a while and try again."),
        )

    @bp.errorhandler(TooManyAttempts)
    def slow_down(exc: TooManyAttempts) -> ResponseReturnValue:
        refused("portal", "throttled")
        text = _("Signing in failed too many times. Wait {seconds} seconds and try again, or ask your community "
                 "service centre to reset your password.", seconds=exc.retry_after)  # fmt: skip
        page = render_template("portal/error.html", status=429, title=_("Too many failed attempts"), text=text)
        return page, 429, {"Retry-After": str(exc.retry_after)}

    @bp.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
        return error_page(
            413,
            _("Too much at once"),
            _("The files sent together are too large. Send fewer files at a time, each at most {mb} MB.",
              mb=round(runtime().settings.upload_max_bytes / 1048576)),
        )  # fmt: skip

    @bp.errorhandler(PermissionDenied)
    def forbidden(exc: PermissionDenied) -> ResponseReturnValue:
        return error_page(403, _("Not allowed"), translator.message(exc.text))

    @bp.errorhandler(HTTPException)
    def other_http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        return error_page(status, _("Something went wrong"), exc.name or "")

    return bp
