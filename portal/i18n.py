"""The portal's language: Chinese (zh_CN) first, English one click away, through Flask-Babel.

The portal keeps a catalogue of its own (``portal/translations/zh/LC_MESSAGES/messages.po``; Babel
reads ``zh_CN`` as ``zh_Hans_CN`` and finds it in ``zh/``) in a Flask-Babel :class:`Domain`, so
that its texts never mix with another catalogue of the same app. Codes that Huiju itself labels
(case statuses, outcomes, timeline kinds) are worded by :mod:`huiju.labels` in the same locale.

The chosen language lives in the session (``?lang=en`` on any portal page switches it); without a
choice the portal speaks Chinese, whatever the browser asks for: its readers are residents in China.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, g, has_app_context, session
from flask_babel import Babel, Domain, format_date, format_datetime

from huiju.calendar import CHINA
from huiju.errors import ConfigurationError
from huiju.i18n import Message

DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")
LANG_KEY = "portal_lang"
TIMEZONE = CHINA.key
TRANSLATIONS = Path(__file__).parent / "translations"
EXTENSION_KEY = "huiju_portal_domain"
_CATALOGUE_KEY = "huiju_portal_catalogue"


def N_(msgid: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a text for extraction; it is translated where it is shown (a template's ``_()``)."""
    return msgid


def chosen_locale() -> str:
    """The locale of the current request: the session's choice, else Chinese."""
    choice = session.get(LANG_KEY)
    return choice if choice in LOCALES else DEFAULT_LOCALE


def init_babel(app: Flask) -> Domain:
    """Bind Flask-Babel to ``app`` (unless the app has a Babel already) and return the portal's domain.

    Jinja is left alone (``configure_jinja=False``): the portal hands ``_`` to its own templates only.
    """
    if "babel" in app.extensions:
        raise ConfigurationError(
            "this Flask app already has Flask-Babel (another app's language rules); "
            "mount the portal on an app without it, such as huiju.app.web.create_app()"
        )
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    Babel(configure_jinja=False).init_app(
        app, default_translation_directories=str(TRANSLATIONS), locale_selector=chosen_locale
    )
    domain = Domain(translation_directories=str(TRANSLATIONS), domain="messages")
    app.extensions[EXTENSION_KEY] = domain
    return domain


class Translator:
    """What the portal's views and templates call to word things in the request's language."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def gettext(self, msgid: str, **params: Any) -> str:
        """Translate ``msgid``; named ``{placeholders}`` are filled after translation."""
        text: str = self._catalogue().ugettext(msgid)
        return text.format(**params) if params else text

    def _catalogue(self) -> Any:
        """The request's catalogue, looked up once a request: a list of cases asks for hundreds of
        texts, and Flask-Babel finds the catalogue anew for each (its locale too is one a request)."""
        if not has_app_context():
            return self.domain.get_translations()
        found = g.get(_CATALOGUE_KEY)
        if found is None:
            found = self.domain.get_translations()
            setattr(g, _CATALOGUE_KEY, found)
        return found

    def message(self, text: str | Message) -> str:
        """A Huiju :class:`~huiju.i18n.Message` (its catalogue), or a message id of the portal's own."""
        if isinstance(text, Message):
            return text.localize(chosen_locale())
        return self.gettext(text)

    @staticmethod
    def date(value: datetime | None) -> str:
        return format_date(value, format="long") if value is not None else ""

    @staticmethod
    def datetime(value: datetime | None) -> str:
        return format_datetime(value, format="short") if value is not None else ""
