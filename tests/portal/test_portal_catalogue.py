"""The portal's Chinese catalogue covers every text of its code and templates, and is compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

PORTAL = Path(__file__).parents[2] / "portal"
PO = PORTAL / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def test_every_portal_text_has_a_current_chinese_translation() -> None:
    found = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(PORTAL),
            method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2")],
            keywords={"_": None, "N_": None},
        )
    }
    with PO.open("rb") as f:
        po = read_po(f)
    translated = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
    assert found, "no texts found: is the Jinja extractor installed?"
    assert sorted(found - set(translated)) == []
    with PO.with_suffix(".mo").open("rb") as f:
        mo = read_mo(f)
    assert {m.id: m.string for m in mo if m.id} == translated, "run pybabel compile (see portal/babel.cfg)"
