"""Words for an item's application form, read from its JSON Schema (the catalogue is data).

A property's ``title`` is its Chinese name; two annotations of ours, which JSON Schema validators
ignore, give the rest: ``x-title-en`` (the English name) and ``x-enum-labels`` (for each value of an
``enum``, ``{"zh": ..., "en": ...}``). So an administrator who adds an item to the catalogue gives
its words with it, and the portal's form, the officers' case file and the API show the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from huiju.i18n import _, normalize

TITLE_EN = "x-title-en"
ENUM_LABELS = "x-enum-labels"


@dataclass(frozen=True)
class Words:
    """A text of the catalogue in both languages; shown with :meth:`localize` like a message."""

    zh: str
    en: str

    def localize(self, locale: str | None = None) -> str:
        return self.en if normalize(locale) == "en" and self.en else self.zh


def title(name: str, prop: Mapping[str, Any]) -> Words:
    zh = str(prop.get("title") or name)
    return Words(zh, str(prop.get(TITLE_EN) or zh))


def value_words(prop: Mapping[str, Any], value: Any) -> Words | None:
    """The label of an enum value, if the schema gives one."""
    entry = prop.get(ENUM_LABELS, {}).get(str(value))
    if isinstance(entry, Mapping) and entry.get("zh"):
        return Words(str(entry["zh"]), str(entry.get("en") or entry["zh"]))
    return None


def shown_value(prop: Mapping[str, Any], value: Any, locale: str | None) -> str:
    words = value_words(prop, value)
    if words is not None:
        return words.localize(locale)
    if isinstance(value, bool):
        return (_("yes") if value else _("no")).localize(locale)
    return str(value)


@dataclass(frozen=True)
class ShownField:
    name: str
    title: str
    value: str


def readable(schema: Mapping[str, Any], data: Mapping[str, Any], locale: str | None) -> list[ShownField]:
    """The filled-in fields of ``data`` in the schema's order, with their titles and value labels."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    shown = [
        ShownField(name, title(name, prop).localize(locale), shown_value(prop, data[name], locale))
        for name, prop in properties.items()
        if name in data
    ]
    shown += [ShownField(name, name, str(value)) for name, value in data.items() if name not in properties]
    return shown
