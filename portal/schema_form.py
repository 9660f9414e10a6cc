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

Titles in the schemas are Chinese; the English one comes from the portal catalogue by property
name (:data:`FIELD_TITLES`), and so do the labels of enum values (:data:`VALUE_LABELS`). A name the
catalogue does not know is shown as the schema writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portal.i18n import N_

#: English titles of the properties the item forms use (the Chinese is the schema's own title).
FIELD_TITLES: dict[str, str] = {
    "income_band": N_("Family income"),
    "disability": N_("Disability"),
    "living_alone": N_("Living alone"),
    "contact_phone": N_("Contact phone"),
    "service_preference": N_("Services you would like"),
    "purpose": N_("Purpose of the certificate"),
    "address": N_("Address"),
    "since": N_("Living there since"),
    "registration": N_("Registration"),
    "employer": N_("Employer"),
    "child_order": N_("Which child"),
    "expected_date": N_("Expected date of birth"),
    "cause": N_("Cause of hardship"),
    "amount_requested": N_("Amount requested (yuan)"),
    "description": N_("Description"),
    "category": N_("Category"),
    "location": N_("Location"),
}

#: Labels of enum values, message ids of the portal catalogue (Chinese in the catalogue).
VALUE_LABELS: dict[str, str] = {
    "subsistence": N_("Subsistence allowance"),
    "low_income": N_("Low income"),
    "ordinary": N_("Ordinary"),
    "none": N_("None"),
    "moderate": N_("Moderate"),
    "severe": N_("Severe"),
    "school": N_("School"),
    "employment": N_("Employment"),
    "unemployment": N_("Unemployment"),
    "bank": N_("Bank"),
    "illness": N_("Illness"),
    "accident": N_("Accident"),
    "disaster": N_("Disaster"),
    "lighting": N_("Lighting"),
    "plumbing": N_("Water and pipes"),
    "lift": N_("Lift"),
    "road": N_("Roads and paths"),
    "environment": N_("Environment and hygiene"),
    "noise": N_("Noise"),
    "service": N_("Service attitude"),
    "property": N_("Property management"),
    "policy": N_("Policies"),
    "procedure": N_("How to apply"),
    "other": N_("Other"),
}

TEXTAREA_FROM = 201


@dataclass(frozen=True)
class Option:
    value: str
    label: str  # message id, or the value itself


@dataclass(frozen=True)
class Field:
    name: str
    title_zh: str
    title_en: str  # message id
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
            options = [Option(str(v), VALUE_LABELS.get(str(v), str(v))) for v in prop["enum"]]
        elif kind == "boolean":
            widget = "radio"
            options = [Option("true", N_("Yes")), Option("false", N_("No"))]
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
            Field(name=name, title_zh=str(prop.get("title", name)), title_en=FIELD_TITLES.get(name, name),
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
