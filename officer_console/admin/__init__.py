"""The console's administration (管理: accounts, the resident roster, the audit trail) and integration
(接口: adapters and uploaded systems, the message log, certificates) areas, the account's own
password, and the guides. :func:`register` adds their views and menu entries to the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from huiju.calendar import CHINA


def beijing(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time as people here read it: Beijing time (the stored times are UTC)."""
    return moment.astimezone(CHINA).strftime(fmt) if moment is not None else ""


def register(appbuilder: AppBuilder) -> None:
    from officer_console.admin.account import AccountView
    from officer_console.admin.audit import AuditView
    from officer_console.admin.certificates import CertificatesView
    from officer_console.admin.help import HelpView
    from officer_console.admin.integration import AdaptersView
    from officer_console.admin.messages import MessageLogView
    from officer_console.admin.roster import RosterView
    from officer_console.admin.users import UsersView

    current_app.jinja_env.filters["beijing"] = beijing  # (called inside the console's app context)
    admin: dict[str, Any] = {"category": "Administration", "category_label": _l("Administration"),
                             "category_icon": "fa-cogs"}  # fmt: skip
    appbuilder.add_view(UsersView, "Users", label=_l("Users"), icon="fa-users", **admin)
    appbuilder.add_view(RosterView, "Roster import", label=_l("Roster import"), icon="fa-upload", **admin)
    appbuilder.add_view(AuditView, "Audit trail", label=_l("Audit trail"), icon="fa-shield", **admin)
    integration: dict[str, Any] = {"category": "Integration", "category_label": _l("Integration"),
                                   "category_icon": "fa-plug"}  # fmt: skip
    appbuilder.add_view(AdaptersView, "Adapters", label=_l("Adapters"), icon="fa-exchange", **integration)
    appbuilder.add_view(MessageLogView, "Message log", label=_l("Message log"), icon="fa-list", **integration)
    appbuilder.add_view(CertificatesView, "Certificates", label=_l("Certificates"), icon="fa-certificate",
                        **integration)  # fmt: skip
    appbuilder.add_view(HelpView, "Guides", label=_l("Guides"), icon="fa-book", category="Help",
                        category_label=_l("Help"), category_icon="fa-question-circle")  # fmt: skip
    appbuilder.add_view_no_menu(AccountView)
