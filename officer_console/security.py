"""Sign-in for the console against Huiju's own accounts (``huiju_user``), not a second user store.

Flask-AppBuilder keeps its users and roles in tables of its own; the console uses none of them.
Its roles are *built-in* roles (``FAB_ROLES``, checked in memory, one per Huiju role), the signed-in
user is a :class:`ConsoleUser` built from the ``huiju_user`` row on every request, and the password
is checked by :func:`huiju.services.actors.authenticate`. FAB's security views (users, roles,
permissions) are switched off: accounts are kept where the API, the CLI and the portal read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, current_app, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from huiju.errors import PermissionDenied
from huiju.i18n import normalize
from huiju.models import Role, User
from huiju.runtime import Runtime
from huiju.services.actors import WITH_OFFICE, Actor, actor_for, authenticate
from huiju.web import headers
from huiju.web.runtime import runtime
from huiju.web.sessions import ServerSessionInterface, cookie_settings, end_session, preloaded_user, regenerate_session
from huiju.web.signins import refused
from huiju.web.throttle import TooManyAttempts, init_throttle, throttle_of
from officer_console.processes import ADMINISTRATOR_PERMISSIONS, INTEGRATOR_PERMISSIONS

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ROLE = "Public"
SESSION_COOKIE = "huiju_console"

#: What each Huiju role may open, as FAB built-in roles: (view name regex, permission regex).
#: The service layer scopes every row again; this only decides which pages a role gets.
_OFFICER = [
    ["^(InboxView|CaseView|DashboardView)$", "^can_"],
    ["^(Inbox|Incidents|Dashboard)$", "^menu_access$"],
]
_COMMUNITY_OFFICER = [*_OFFICER, ["^FamilyView$", "^can_"], ["^Family consent$", "^menu_access$"]]
_OVERSEER = [["^CaseView$", "^can_(read|retry|incidents)$"], ["^Incidents$", "^menu_access$"]]
#: Every signed-in account: its own password, and the guides.
_EVERYONE = [["^(AccountView|HelpView)$", "^can_"], ["^(Help|Guides)$", "^menu_access$"]]
#: Administration (管理) is the administrator's; integration (接口) the integrator's.
_ADMINISTRATION = [
    ["^(UsersView|RosterView|AuditView)$", "^can_"],
    ["^(Administration|Users|Roster import|Audit trail)$", "^menu_access$"],
]
_INTEGRATION = [
    ["^(AdaptersView|MessageLogView|CertificatesView)$", "^can_"],
    ["^(Integration|Adapters|Message log|Certificates)$", "^menu_access$"],
]
FAB_ROLES: dict[str, list[list[str]]] = {
    Role.COMMUNITY_OFFICER.value: [*_COMMUNITY_OFFICER, *_EVERYONE],
    Role.STREET_REVIEWER.value: [*_OFFICER, *_EVERYONE],
    Role.ADMINISTRATOR.value: [
        *_OVERSEER,
        ["^(DashboardView|CalendarView)$", "^can_"],
        ["^(Dashboard|Calendar)$", "^menu_access$"],
        *_ADMINISTRATION,
        *ADMINISTRATOR_PERMISSIONS,
        *_EVERYONE,
    ],
    Role.INTEGRATOR.value: [*_OVERSEER, *_INTEGRATION, *INTEGRATOR_PERMISSIONS, *_EVERYONE],
    # Community services (O2O): the provider's staff and the platform operator.
    Role.PROVIDER.value: [["^ProviderView$", "^can_"], ["^Provider (orders|services)$", "^menu_access$"], *_EVERYONE],
    Role.OPERATOR.value: [
        ["^OperatorView$", "^can_"],
        ["^Operator (orders|providers|complaints|settlements)$", "^menu_access$"],
        *_EVERYONE,
    ],
    PUBLIC_ROLE: [],
}


@dataclass(frozen=True)
class ConsoleRole:
    name: str
    id: int = 0


@dataclass
class ConsoleUser:
    """The signed-in account, as Flask-Login and FAB's templates read it."""

    id: int
    username: str
    display_name: str
    actor: Actor
    roles: list[ConsoleRole] = field(default_factory=list)
    #: After a reset by an administrator: every page sends the user to choose a new password first.
    must_change_password: bool = False
    groups: list[Any] = field(default_factory=list)
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.id)

    def get_full_name(self) -> str:
        return self.display_name


def _console_user(user: User) -> ConsoleUser:
    return ConsoleUser(
        user.id, user.username, user.display_name, actor_for(user), [ConsoleRole(user.role.value)],
        must_change_password=user.must_change_password,
    )  # fmt: skip


class ConsoleSecurityManager(SecurityManager):  # type: ignore[misc]
    """FAB's security manager with Huiju's accounts and built-in roles only (no FAB tables)."""

    def load_user(self, pk: int | str) -> ConsoleUser | None:
        try:
            user_id = int(pk)
        except (TypeError, ValueError):
            return None
        user = preloaded_user(user_id=user_id)
        if user is None:
            with runtime().db.sessions() as session:
                user = session.get(User, user_id, options=WITH_OFFICE)
        if user is None or not user.active or user.role is Role.RESIDENT:
            return None
        return _console_user(user)

    def auth_user_db(self, username: str, password: str) -> ConsoleUser | None:
        """A console user for right credentials of an active non-resident account, else None."""
        with runtime().db.sessions() as session:
            try:
                authenticate(session, username, password)
            except PermissionDenied:
                return None
            user = session.scalars(select(User).where(User.username == username)).one()
            if user.role is Role.RESIDENT:
                return None  # residents use the portal
            return _console_user(user)

    def create_limiter(self, app: Flask) -> Limiter:
        """The web process's one limiter (bound by :func:`configure_security`), not a second one."""
        return throttle_of(app).limiter

    def get_public_role(self) -> ConsoleRole:
        return ConsoleRole(PUBLIC_ROLE)

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        return self._has_access_builtin_roles(ConsoleRole(PUBLIC_ROLE), permission_name, view_name)  # type: ignore[no-any-return]

    def _get_safe_user(self, user: Any) -> Any:
        return user

    def create_db(self) -> None:
        """FAB's tables are not used: nothing to create."""

    def register_views(self) -> None:
        self.auth_view = AuthView()
        self.appbuilder.add_view_no_menu(self.auth_view)


def current_actor() -> Actor:
    user = g.get("user")
    if not isinstance(user, ConsoleUser):
        abort(401)
    return user.actor


def locale() -> str:
    """The console's language as Huiju's messages name it (``zh_CN`` or ``en``)."""
    return normalize(str(get_locale() or "zh"))


def requires(permission: str) -> Callable[[F], F]:
    """Like FAB's ``has_access``, but a signed-in user without the right gets 403, not a redirect."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(self: BaseView, *args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("AuthView.login", next=request.full_path))
            if getattr(current_user, "must_change_password", False):
                return redirect(url_for("AccountView.password"))
            if not self.appbuilder.sm.has_access(permission, self.class_permission_name):
                abort(403)
            return view(self, *args, **kwargs)

        return cast(F, wrapper)

    return decorate


def home_url(actor: Actor) -> str:
    if actor.is_officer:
        return str(url_for("InboxView.index"))
    if actor.role is Role.PROVIDER:
        return str(url_for("ProviderView.index"))
    if actor.role is Role.OPERATOR:
        return str(url_for("OperatorView.index"))
    if actor.role is Role.ADMINISTRATOR:
        return str(url_for("DashboardView.index"))
    if actor.role is Role.INTEGRATOR:
        return str(url_for("AdaptersView.index"))
    return str(url_for("CaseView.incidents"))


def configure_security(app: Flask, runtime: Runtime, url_prefix: str) -> None:
    """Server-side sessions (cookie on the console's path), the shared sign-in throttle, and the
    web process's security headers on every console response (its decision pages cannot be framed)."""
    app.config.update(cookie_settings(runtime, SESSION_COOKIE, url_prefix or "/"))
    app.session_interface = ServerSessionInterface("console", _signed_in_user)
    init_throttle(app, runtime)
    production = runtime.settings.production
    static = app.static_url_path or "/assets"

    @app.before_request
    def signed_in_user() -> None:
        # Before CSRFProtect's check (registered after this): a refused form's error page draws the
        # menu of the signed-in user, which reads g.user (else the error page itself failed: 500).
        g.user = current_user

    @app.after_request
    def console_headers(response: Response) -> Response:
        cached = request.path.startswith((static + "/", "/static/"))
        return headers.apply(response, headers.CONSOLE_CSP, production=production, cache=cached)


def _signed_in_user(data: Mapping[str, Any]) -> int | None:
    """Flask-Login keeps the signed-in user's id in the session as ``_user_id``."""
    try:
        return int(data["_user_id"])
    except (KeyError, TypeError, ValueError):
        return None


class AuthView(BaseView):  # type: ignore[misc]
    """The sign-in page: user name and password of a Huiju account."""

    route_base = "/login"
    default_view = "login"

    @expose("/", methods=["GET", "POST"])
    def login(self) -> Any:
        error = None
        if request.method == "POST":
            username = (request.form.get("username") or "").strip()
            account, address = username.lower(), get_remote_address() or "unknown"
            throttle = throttle_of(current_app)
            try:
                throttle.check(account, address)
            except TooManyAttempts as wait:
                refused("console", "throttled")
                error = _l(
                    "Too many failed sign-ins. Wait %(seconds)s seconds and try again.", seconds=wait.retry_after
                )
                page = self.render_template("console/login.html", error=error)
                return page, 429, {"Retry-After": str(wait.retry_after)}
            user = self.appbuilder.sm.auth_user_db(username, request.form.get("password") or "")
            if user is not None:
                throttle.succeeded(account)
                login_user(user, remember=False)
                regenerate_session()  # a new session token at sign-in: no fixation
                if user.must_change_password:
                    return redirect(url_for("AccountView.password"))
                target = request.args.get("next") or ""
                # Only a path of this console: never an open redirect.
                if target.startswith("/") and not target.startswith("//"):
                    return redirect(request.script_root + target)
                return redirect(home_url(user.actor))
            throttle.failed(account, address)
            refused("console", "wrong_password")
            error = _l("Wrong user name or password, or the account may not use the console.")
        return self.render_template("console/login.html", error=error), (401 if error else 200)

    @expose("/out", methods=["POST"])
    def logout(self) -> Any:
        logout_user()
        end_session()  # every copy of this session's cookie stops working
        return redirect(url_for("AuthView.login"))
