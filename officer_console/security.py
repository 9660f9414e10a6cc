"""Sign-in for the console against Huiju's own accounts (``huiju_user``), not a second user store.

Flask-AppBuilder keeps its users and roles in tables of its own; the console uses none of them.
Its roles are *built-in* roles (``FAB_ROLES``, checked in memory, one per Huiju role), the signed-in
user is a :class:`ConsoleUser` built from the ``huiju_user`` row on every request, and the password
is checked by :func:`huiju.services.actors.authenticate`. FAB's security views (users, roles,
permissions) are switched off: accounts are kept where the API, the CLI and the portal read them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from huiju.errors import PermissionDenied
from huiju.i18n import normalize
from huiju.models import Role, User
from huiju.services.actors import Actor, actor_for, authenticate
from huiju.web.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ROLE = "Public"

#: What each Huiju role may open, as FAB built-in roles: (view name regex, permission regex).
#: The service layer scopes every row again; this only decides which pages a role gets.
_OFFICER = [
    ["^(InboxView|CaseView|DashboardView)$", "^can_"],
    ["^(Inbox|Incidents|Dashboard)$", "^menu_access$"],
]
_COMMUNITY_OFFICER = [*_OFFICER, ["^FamilyView$", "^can_"], ["^Family consent$", "^menu_access$"]]
_OVERSEER = [["^CaseView$", "^can_(read|retry|incidents)$"], ["^Incidents$", "^menu_access$"]]
FAB_ROLES: dict[str, list[list[str]]] = {
    Role.COMMUNITY_OFFICER.value: _COMMUNITY_OFFICER,
    Role.STREET_REVIEWER.value: _OFFICER,
    Role.ADMINISTRATOR.value: [
        *_OVERSEER,
        ["^(DashboardView|CalendarView)$", "^can_"],
        ["^(Dashboard|Calendar)$", "^menu_access$"],
    ],
    Role.INTEGRATOR.value: _OVERSEER,
    # Community services (O2O): the provider's staff and the platform operator.
    Role.PROVIDER.value: [["^ProviderView$", "^can_"], ["^Provider (orders|services)$", "^menu_access$"]],
    Role.OPERATOR.value: [
        ["^OperatorView$", "^can_"],
        ["^Operator (orders|providers|complaints|settlements)$", "^menu_access$"],
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
    groups: list[Any] = field(default_factory=list)
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.id)

    def get_full_name(self) -> str:
        return self.display_name


def _console_user(user: User) -> ConsoleUser:
    return ConsoleUser(user.id, user.username, user.display_name, actor_for(user), [ConsoleRole(user.role.value)])


class ConsoleSecurityManager(SecurityManager):  # type: ignore[misc]
    """FAB's security manager with Huiju's accounts and built-in roles only (no FAB tables)."""

    def load_user(self, pk: int | str) -> ConsoleUser | None:
        try:
            user_id = int(pk)
        except (TypeError, ValueError):
            return None
        with runtime().db.sessions() as session:
            user = session.get(User, user_id)
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
    return str(url_for("CaseView.incidents"))


class SignInGuard:
    """Failed sign-ins counted per account and per client address in a moving window: past the limit,
    that account (or, past five times the limit, that address: an office shares one behind its NAT)
    is refused until the window moves on (in this process)."""

    def __init__(self, limit: int = 10, window_seconds: float = 900.0) -> None:
        self.limit, self.window = limit, window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, account: str, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return len(self._recent(account, now)) >= self.limit or len(self._recent(address, now)) >= 5 * self.limit

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)


def sign_in_guard() -> SignInGuard:
    """The console app's guard (created with the app, sized by CONSOLE_SIGN_IN_LIMIT)."""
    guard = current_app.extensions.get("huiju.sign_in_guard")
    if guard is None:
        guard = SignInGuard(int(current_app.config.get("CONSOLE_SIGN_IN_LIMIT", 10)))
        current_app.extensions["huiju.sign_in_guard"] = guard
    return cast(SignInGuard, guard)


class AuthView(BaseView):  # type: ignore[misc]
    """The sign-in page: user name and password of a Huiju account."""

    route_base = "/login"
    default_view = "login"

    @expose("/", methods=["GET", "POST"])
    def login(self) -> Any:
        error = None
        if request.method == "POST":
            username = (request.form.get("username") or "").strip()
            keys = (f"account:{username.lower()}", f"address:{request.remote_addr or 'unknown'}")
            guard = sign_in_guard()
            if guard.blocked(*keys):
                error = _l("Too many failed sign-ins. Please wait 15 minutes and try again.")
                return self.render_template("console/login.html", error=error), 429
            user = self.appbuilder.sm.auth_user_db(username, request.form.get("password") or "")
            if user is None:
                guard.failed(*keys)
            if user is not None:
                login_user(user, remember=False)
                target = request.args.get("next") or ""
                # Only a path of this console: never an open redirect.
                if target.startswith("/") and not target.startswith("//"):
                    return redirect(request.script_root + target)
                return redirect(home_url(user.actor))
            error = _l("Wrong user name or password, or the account may not use the console.")
        return self.render_template("console/login.html", error=error), (401 if error else 200)

    @expose("/out", methods=["POST"])
    def logout(self) -> Any:
        logout_user()
        return redirect(url_for("AuthView.login"))
