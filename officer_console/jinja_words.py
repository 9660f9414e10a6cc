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
    """The request's translations, each text's translation as found (message id, escaped), and the
    texts without variables as said (formatted once)."""

    __slots__ = ("plain", "said", "translations")

    def __init__(self) -> None:
        self.translations = get_translations()
        self.said: dict[tuple[str, bool], str] = {}
        self.plain: dict[tuple[str, bool], str] = {}

    def translation(self, key: tuple[str, bool]) -> str:
        said = self.said.get(key)
        if said is None:
            text: str = self.translations.ugettext(key[0])
            # Our catalogue, marked safe where the template escapes, as Jinja marks it too.
            said = self.said[key] = Markup(text) if key[1] else text  # noqa: S704
        return said


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
    key = (msgid, context.eval_ctx.autoescape)
    if variables:  # ``%`` escapes what fills the text where the template escapes
        return words.translation(key) % variables  # type: ignore[no-any-return]
    said = words.plain.get(key)
    if said is None:  # formatted all the same: ``%%`` is then one ``%``, as Jinja's gettext gives it
        said = words.plain[key] = words.translation(key) % {}
    return said


def install(app: Flask) -> None:
    """Make :func:`gettext` the ``_`` and ``gettext`` of ``app``'s templates (after Flask-Babel)."""
    app.jinja_env.globals.update(_=gettext, gettext=gettext)
    app.context_processor(lambda: {_KEY: _words()})
