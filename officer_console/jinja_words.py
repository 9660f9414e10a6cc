"""The console's ``_`` in templates, each text looked up once per request.

A page says the same texts many times (the inbox names every column again in every row, for the
narrow screen, where a row becomes a card); Flask-Babel's gettext finds the request's translations
anew on every call, which took about a third of the inbox page's time. Here the request's
translations are found once (kept on ``g``) and each text's translated form is kept beside them, so
a text said again is one dictionary lookup. What a template gets is what Jinja's new-style gettext
gives: the translation, marked safe where the template escapes, formatted with ``%`` and the call's
variables.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

_KEY = "huiju_console_words"


class _Words:
    """The request's translations, and the texts said so far: (message id, escaped) -> text."""

    __slots__ = ("said", "translations")

    def __init__(self) -> None:
        self.translations = get_translations()
        self.said: dict[tuple[str, bool], str] = {}

    def translate(self, msgid: str, escaped: bool) -> str:
        text: str = self.translations.ugettext(msgid)
        return Markup(text) if escaped else text  # noqa: S704 - our catalogue, as Jinja marks it too


def _words() -> _Words:
    words: _Words | None = g.get(_KEY)
    if words is None:
        words = _Words()
        setattr(g, _KEY, words)
    return words


@pass_context
def gettext(context: Context, msgid: str, **variables: Any) -> str:
    """Jinja's ``_()`` and ``gettext()`` (new style): ``msgid`` in the request's language."""
    # The render's context holds the request's words (put there once per render, below): reaching
    # them through ``g`` costs a context-local lookup at every call, a dozen times a row.
    words = context.get(_KEY)
    if not isinstance(words, _Words):
        words = _words()
    escaped = context.eval_ctx.autoescape
    if variables:
        return words.translate(msgid, escaped) % variables  # type: ignore[no-any-return]
    key = (msgid, escaped)
    said = words.said.get(key)
    if said is None:
        said = words.said[key] = words.translate(msgid, escaped) % {}
    return said


def install(app: Flask) -> None:
    """Make :func:`gettext` the ``_`` and ``gettext`` of ``app``'s templates (after Flask-Babel)."""
    app.jinja_env.globals.update(_=gettext, gettext=gettext)
    app.context_processor(lambda: {_KEY: _words()})
