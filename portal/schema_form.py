"""Application forms generated from an item's JSON Schema (申请表单).

Each property becomes one field, with the HTML5 constraints the schema states, so that the
browser checks first; the server checks again with the same schema (:mod:`huiju.services.cases`).

=====================================  ==========================================================
schema                                 field
=====================================  ==========================================================
``enum``                               ``<select>`` with a label per value
``boolean``                            two radio buttons (yes / no)
``integer``                            ``<input type=number step=1 min= max=>``
``string`` with ``format: date``       ``<input type=date>``
``string`` with ``maxLength`` > 200    ``<textarea minlength= maxlength=>``
``string``                             ``<input type=text pattern= minlength= maxlength=>``
=====================================  ==========================================================

Titles and the labels of enum values come with the schema, in Chinese and English
(:mod:`huiju.forms`); a value without a label is shown as the schema writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from huiju.forms import Words, title, value_words
from huiju.i18n import Message, _

TEXTAREA_FROM = 201


@dataclass(frozen=True)
class Option:
    value: str
    label: Words | Message  # shown with .localize(locale)


@dataclass(frozen=True)
class Field:
    name: str
    title: Words
    widget: str  # select | radio | number | date | textarea | text
    required: bool
    options: list[Option] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)  # HTML5 constraint attributes
    description: str = ""

    def value_of(self, data: Mapping[str, Any]) -> str:
        value = data.get(self.name)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def fields_of(schema: Mapping[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type")
        attrs: dict[str, str] = {}
        options: list[Option] = []
        if "enum" in prop:
            widget = "select"
            options = [Option(str(v), value_words(prop, v) or Words(str(v), str(v))) for v in prop["enum"]]
        elif kind == "boolean":
            widget = "radio"
            options = [Option("true", _("yes")), Option("false", _("no"))]
        elif kind == "integer":
            widget = "number"
            attrs["step"] = "1"
            for key, attr in (("minimum", "min"), ("maximum", "max")):
                if key in prop:
                    attrs[attr] = str(prop[key])
        elif prop.get("format") == "date":
            widget = "date"
        else:
            widget = "textarea" if prop.get("maxLength", 0) >= TEXTAREA_FROM else "text"
            if "pattern" in prop and widget == "text":
                # HTML anchors the pattern itself (and compiles it with the v flag): drop ^ and $.
                attrs["pattern"] = str(prop["pattern"]).removeprefix("^").removesuffix("$")
            if name.endswith("phone"):
                attrs["inputmode"] = "tel"
        if kind == "string":
            for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
                if key in prop:
                    attrs[attr] = str(prop[key])
        fields.append(
            Field(name=name, title=title(name, prop),
                  widget=widget, required=name in required, options=options, attrs=attrs,
                  description=str(prop.get("description", "")))
        )  # fmt: skip
    return fields


def coerce(schema: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """Form strings to the schema's types; empty fields left out. What cannot be converted stays a
    string, so that the schema check names the field."""
    data: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        raw = form.get(name)
        if raw is None:
            continue
        text = raw.strip()
        if text == "":
            continue
        kind = prop.get("type")
        if kind == "boolean" and text in ("true", "false"):
            data[name] = text == "true"
        elif kind == "integer" and text.lstrip("-").isdigit() and len(text) < 12:
            data[name] = int(text)
        else:
            data[name] = text
    return data
