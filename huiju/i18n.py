"""Translations: Chinese (zh_CN) first, English second.

Texts in the code are English message ids with named placeholders, marked with :func:`_` so that
``make translations`` (pybabel) extracts them; the Chinese catalogue lives in
``huiju/translations/zh/LC_MESSAGES/messages.po`` (compiled beside it as ``messages.mo``).
A :class:`Message` is rendered late, in the locale of whoever reads it: an API client's
``Accept-Language``, or ``HUIJU_LANG`` for the command line.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

DEFAULT_LOCALE = "zh_CN"
SUPPORTED_LOCALES = ("zh_CN", "en")
TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN = "messages"


@runtime_checkable
class Localizable(Protocol):
    """Anything worded in both languages (a :class:`Message`, the catalogue's ``Words``): as a parameter
    of a message, it is worded in the message's locale."""

    def localize(self, locale: str | None = None) -> str: ...


class Message:
    """A translatable text with named parameters; ``str()`` gives the English text."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params

    def localize(self, locale: str | None = None) -> str:
        text = catalogue(normalize(locale)).gettext(self.msgid)
        params = {k: v.localize(locale) if isinstance(v, Localizable) else v for k, v in self.params.items()}
        return text.format(**params) if params else text

    def __str__(self) -> str:
        return self.localize("en")

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.msgid, self.params) == (other.msgid, other.params)

    def __hash__(self) -> int:
        return hash(self.msgid)


def _(msgid: str, **params: Any) -> Message:
    """Mark a text for translation (the name pybabel looks for)."""
    return Message(msgid, **params)


def N_(msgid: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a text for extraction that is translated where it is shown (the command line's help)."""
    return msgid


def translate(msgid: str, locale: str | None = None) -> str:
    """``msgid`` in ``locale`` (a text marked with :func:`N_`)."""
    return catalogue(normalize(locale)).gettext(msgid)


def localize(text: str | Message, locale: str | None = None) -> str:
    return text.localize(locale) if isinstance(text, Message) else text


def localized(table: Mapping[str, Localizable], locale: str | None = None) -> dict[str, str]:
    """A table of words (code -> :class:`Message`) in ``locale``, for a page's choices."""
    return {code: words.localize(locale) for code, words in table.items()}


def normalize(locale: str | None) -> str:
    """Map 'zh', 'zh-CN', 'zh_Hans_CN', 'en-US', ... onto a supported locale."""
    if not locale:
        return DEFAULT_LOCALE
    tag = locale.replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an HTTP Accept-Language header (RFC 9110 quality values)."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _sep, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        tag = tag.strip().replace("-", "_").lower()
        if tag and quality > 0 and (tag.startswith("zh") or tag.startswith("en")):
            ranked.append((-quality, position, tag))
    return normalize(sorted(ranked)[0][2]) if ranked else DEFAULT_LOCALE


@lru_cache(maxsize=8)
def catalogue(locale: str) -> gettext.NullTranslations:
    if locale == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(TRANSLATIONS), languages=[locale], fallback=True)
