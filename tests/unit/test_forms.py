"""Words for application forms come with the item's schema, in Chinese and English."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from huiju.forms import readable, shown_value, title

SCHEMA = {
    "type": "object",
    "properties": {
        "income_band": {
            "type": "string",
            "enum": ["subsistence", "ordinary"],
            "title": "家庭收入类别",
            "x-title-en": "Family income",
            "x-enum-labels": {"subsistence": {"zh": "低保", "en": "Subsistence allowance"}},
        },
        "living_alone": {"type": "boolean", "title": "是否独居"},
        "note": {"type": "string"},
    },
}
ITEMS = json.loads(resources.files("huiju").joinpath("data/items.json").read_text(encoding="utf-8"))


def test_readable_in_both_languages_in_the_schema_order() -> None:
    data = {"living_alone": True, "income_band": "subsistence", "extra": 3}
    assert [(f.title, f.value) for f in readable(SCHEMA, data, "zh_CN")] == [
        ("家庭收入类别", "低保"),
        ("是否独居", "是"),
        ("extra", "3"),
    ]
    assert [(f.title, f.value) for f in readable(SCHEMA, data, "en")] == [
        ("Family income", "Subsistence allowance"),
        ("是否独居", "yes"),  # no English title given: the Chinese one, never nothing
        ("extra", "3"),
    ]


def test_values_without_labels_and_names_without_titles_are_shown_as_they_are() -> None:
    prop = SCHEMA["properties"]["income_band"]
    assert shown_value(prop, "ordinary", "zh_CN") == "ordinary"
    assert title("note", SCHEMA["properties"]["note"]).localize("en") == "note"


@pytest.mark.parametrize("item", ITEMS, ids=[i["code"] for i in ITEMS])
def test_every_catalogue_form_has_its_words_in_both_languages(item: dict) -> None:
    for name, prop in item["form_schema"]["properties"].items():
        assert prop.get("title") and prop.get("x-title-en"), f"{item['code']}.{name}: a title in both languages"
        for value in prop.get("enum", []):
            words = prop.get("x-enum-labels", {}).get(value, {})
            assert words.get("zh") and words.get("en"), f"{item['code']}.{name}={value}: a label in both languages"
