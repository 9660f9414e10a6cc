"""The residents' help page (使用帮助)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from portal.i18n import Translator


def register_help_views(bp: Blueprint, translator: Translator) -> None:
    _ = translator.gettext

    @bp.route("/help")
    def help_page() -> ResponseReturnValue:
        return render_template("portal/help.html")
