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

from huiju.i18n import N_

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


def _words_of(context: Context) -> _Words:
    # The render's context holds the request's words (put there once per render, below): reaching
    # them through ``g`` costs a context-local lookup at every call, a dozen times a row.
    words = context.get(_KEY)
    return words if isinstance(words, _Words) else _words()


@pass_context
def gettext(context: Context, msgid: str, **variables: Any) -> str:
    """Jinja's ``_()`` and ``gettext()`` (new style): ``msgid`` in the request's language."""
    words = _words_of(context)
    key = (msgid, context.eval_ctx.autoescape)
    if variables:  # ``%`` escapes what fills the text where the template escapes
        return words.translation(key) % variables  # type: ignore[no-any-return]
    said = words.plain.get(key)
    if said is None:  # formatted all the same: ``%%`` is then one ``%``, as Jinja's gettext gives it
        said = words.plain[key] = words.translation(key) % {}
    return said


_PAUSED = N_("clock stopped: waiting for the resident")
_OVERDUE = N_("%(days)s working days overdue")
_LEFT = N_("%(days)s working days left")
_PROVISIONAL = N_("provisional")
_NO_LIMIT = Markup("<span>—</span>")


@pass_context
def time_left(context: Context, left: Any) -> Markup:
    """A time limit as the console shows it (a :class:`huiju.services.worklist.TimeLeft`): the working
    days left, or overdue, or the clock stopped, then the due day.

    The inbox says it twice a row, so it is put together here, not by a template macro (each call a
    new template frame) nor with ``Markup`` formatting (which escapes every value it is given): what
    fills it is a number of days, a day and a word of our own, none of which needs escaping, and
    texts of our catalogue, which the templates take as safe.
    """
    if left.working_days is None:
        return _NO_LIMIT
    words = _words_of(context)
    escaped = context.eval_ctx.autoescape
    if left.paused:
        said = gettext(context, _PAUSED)
    elif left.working_days < 0:
        said = str.__mod__(words.translation((_OVERDUE, escaped)), {"days": int(-left.working_days)})
    else:
        said = str.__mod__(words.translation((_LEFT, escaped)), {"days": int(left.working_days)})
    provisional = f" ({gettext(context, _PROVISIONAL)})" if left.provisional else ""
    due = str(left.due)
    return Markup(f'<span class="left-{left.urgency}" title="{due}">{said}</span> <small>{due}{provisional}</small>')  # noqa: S704


def install(app: Flask) -> None:
    """Make :func:`gettext` the ``_`` and ``gettext`` of ``app``'s templates (after Flask-Babel), and
    :func:`time_left` their ``time_left``."""
    app.jinja_env.globals.update(_=gettext, gettext=gettext, time_left=time_left)
    app.context_processor(lambda: {_KEY: _words()})
