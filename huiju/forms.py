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

from huiju.i18n import Message, _, normalize

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


# -- what is wrong with each field, in words -------------------------------------------------------


def _problem(validator: str, prop: Mapping[str, Any], name: str) -> Message:
    field = title(name, prop)
    if validator == "enum":
        return _("Choose one of the options for {field}.", field=field)
    if validator == "pattern":
        return _("{field} is not written as expected; check it and try again.", field=field)
    if validator == "maxLength":
        return _("{field} may have at most {n} characters.", field=field, n=prop.get("maxLength"))
    if validator == "minLength":
        return _("{field} needs at least {n} characters.", field=field, n=prop.get("minLength"))
    if validator == "type" and prop.get("type") == "integer":
        return _("{field} must be a whole number.", field=field)
    if validator == "minimum":
        return _("{field} must be at least {n}.", field=field, n=prop.get("minimum"))
    if validator == "maximum":
        return _("{field} must be at most {n}.", field=field, n=prop.get("maximum"))
    if validator == "format" and prop.get("format") == "date":
        return _("{field} must be a date.", field=field)
    return _("{field} is not valid; check it and try again.", field=field)


def problems(schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Message]:
    """Each field of ``data`` that fails the item's JSON Schema, with what is wrong in words that name
    the field by its title (never its code), in the reader's language; the first problem of a field
    only, in the schema's order."""
    import jsonschema

    properties: Mapping[str, Any] = schema.get("properties", {})
    found: dict[str, Message] = {}
    for name in schema.get("required", []):
        if name not in data or data[name] in (None, ""):
            prop = properties.get(name, {})
            shown = title(name, prop)
            choose = "enum" in prop or prop.get("type") == "boolean"
            found[name] = _("Choose {field}.", field=shown) if choose else _("Fill in {field}.", field=shown)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for error in validator.iter_errors(dict(data)):
        path = list(error.absolute_path)
        if not path or not isinstance(path[0], str) or path[0] in found:
            continue
        found[path[0]] = _problem(str(error.validator), properties.get(path[0], {}), path[0])
    return {name: found[name] for name in [*properties, *found] if name in found}
