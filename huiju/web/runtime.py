"""The :class:`~huiju.app.bootstrap.Runtime` that the application factory stored on the app."""

from __future__ import annotations

from flask import current_app

from huiju.errors import ConfigurationError
from huiju.i18n import _
from huiju.runtime import Runtime

EXTENSION_KEY = "huiju"


def runtime() -> Runtime:
    found = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(found, Runtime):
        raise ConfigurationError(_("the application has no Huiju runtime; build it with huiju.app.web.create_app"))
    return found
