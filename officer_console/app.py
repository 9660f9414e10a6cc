"""Assembly of the console: configuration, Flask-AppBuilder, the views, the error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, flash, redirect, request, url_for
from flask_appbuilder import AppBuilder, IndexView, expose
from flask_appbuilder.models.sqla.base import SQLA
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from huiju.errors import HuijuError, NotFoundError, PermissionDenied
from huiju.runtime import Runtime
from huiju.services import audit
from huiju.web import steps
from huiju.web.converters import bounded_ids
from huiju.web.logcontext import bind_case_number
from huiju.web.problems import http_status
from huiju.web.runtime import EXTENSION_KEY
from officer_console import jinja_words
from officer_console.security import (
    FAB_ROLES,
    PUBLIC_ROLE,
    ConsoleSecurityManager,
    configure_security,
    home_url,
    locale,
)

HERE = Path(__file__).parent


class ConsoleIndexView(IndexView):  # type: ignore[misc]
    @expose("/")
    def index(self) -> Any:
        if current_user.is_authenticated:
            return redirect(home_url(current_user.actor))
        return redirect(url_for("AuthView.login"))


def build(runtime: Runtime, test_config: dict[str, Any] | None, *, url_prefix: str) -> Flask:
    app = Flask(
        "officer_console",
        instance_path=str(runtime.settings.instance_path.resolve()),
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/assets",
    )
    bounded_ids(app)
    app.config.from_mapping(
        SECRET_KEY=runtime.settings.secret_key,
        # Flask-AppBuilder wants a database for its own tables; the console keeps none there
        # (accounts and roles are Huiju's, see officer_console.security), so it gets an empty one.
        SQLALCHEMY_DATABASE_URI="sqlite://",
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        FAB_ADD_SECURITY_VIEWS=False,
        FAB_CREATE_DB=False,
        FAB_UPDATE_PERMS=False,
        FAB_ROLES=FAB_ROLES,
        AUTH_ROLE_PUBLIC=PUBLIC_ROLE,
        APP_NAME="汇聚 Huiju",
        BABEL_DEFAULT_LOCALE="zh",
        LANGUAGES={"zh": {"flag": "cn", "name": "中文"}, "en": {"flag": "gb", "name": "English"}},
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.extensions[EXTENSION_KEY] = runtime
    configure_security(app, runtime, url_prefix)  # sessions on the server, throttle, headers
    CSRFProtect(app)
    app.before_request(lambda: audit.set_origin("console", request.remote_addr))
    app.teardown_request(audit.clear_origin)
    db = SQLA()
    with app.app_context():
        db.init_app(app)
        appbuilder = AppBuilder(security_manager_class=ConsoleSecurityManager, indexview=ConsoleIndexView)
        appbuilder.init_app(app, db.session)
        _add_views(appbuilder)
    jinja_words.install(app)  # after Flask-AppBuilder's Babel, whose gettext it replaces in templates
    steps.install(app, locale)
    _error_pages(app)
    app.before_request(bind_case_number)  # log records of a case's pages carry its number
    return app


def _add_views(appbuilder: AppBuilder) -> None:
    from officer_console.views import CalendarView, CaseView, DashboardView, InboxView

    appbuilder.add_view(InboxView, "Inbox", label=_l("Inbox"), icon="fa-inbox")
    appbuilder.add_view_no_menu(CaseView)
    appbuilder.add_link("Incidents", label=_l("Incidents"), href="CaseView.incidents", icon="fa-bolt")
    appbuilder.add_view(DashboardView, "Dashboard", label=_l("Dashboard"), icon="fa-chart-bar")
    appbuilder.add_view(CalendarView, "Calendar", label=_l("Calendar"), icon="fa-calendar")
    from officer_console.processes import register as register_processes

    register_processes(appbuilder)
    from officer_console.admin import register as register_admin

    register_admin(appbuilder)  # administration, integration, the account's password, the guides
    _add_o2o_views(appbuilder)


def _add_o2o_views(appbuilder: AppBuilder) -> None:
    """Community services: the provider's and the operator's pages, the officer's consent record."""
    from officer_console.views_o2o import FamilyView, OperatorView, ProviderView

    appbuilder.add_view(ProviderView, "Provider orders", label=_l("Orders"), icon="fa-truck")
    appbuilder.add_link("Provider services", label=_l("Services and slots"), href="ProviderView.services",
                        icon="fa-list")  # fmt: skip
    appbuilder.add_view(OperatorView, "Operator orders", label=_l("Orders to watch"), icon="fa-tasks")
    appbuilder.add_link("Operator providers", label=_l("Providers"), href="OperatorView.providers", icon="fa-users")
    appbuilder.add_link("Operator complaints", label=_l("Complaints"), href="OperatorView.complaints",
                        icon="fa-comment")  # fmt: skip
    appbuilder.add_link("Operator settlements", label=_l("Settlements"), href="OperatorView.settlements",
                        icon="fa-calculator")  # fmt: skip
    appbuilder.add_view(FamilyView, "Family consent", label=_l("Family consent"), icon="fa-link")


def _error_pages(app: Flask) -> None:
    def page(status: int, text: str) -> Response:
        from flask import render_template

        body = render_template("console/error.html", status=status, text=text, appbuilder=app.appbuilder)  # type: ignore[attr-defined]
        return Response(body, status, mimetype="text/html")

    @app.errorhandler(NotFoundError)
    def not_found(exc: NotFoundError) -> Response:
        return page(404, exc.localized(locale()))

    @app.errorhandler(PermissionDenied)
    def forbidden(exc: PermissionDenied) -> Response:
        return page(403, exc.localized(locale()))

    @app.errorhandler(CSRFError)
    def csrf(exc: CSRFError) -> Response:
        return page(400, str(_l("The form expired; load the page again.")))

    @app.errorhandler(HuijuError)
    def other(exc: HuijuError) -> Any:
        # Input and conflicts: shown on the page the form came from, nothing was written.
        if request.method == "POST" and http_status(exc) < 500:
            flash(exc.localized(locale()), "danger")
            return redirect(request.referrer or url_for("ConsoleIndexView.index"), 303)
        return page(http_status(exc), exc.localized(locale()))

    @app.errorhandler(HTTPException)
    def http(exc: HTTPException) -> Response:
        texts = {403: _l("You may not open this page."), 404: _l("There is no such page.")}
        return page(exc.code or 500, str(texts.get(exc.code or 0, exc.description or "")))
