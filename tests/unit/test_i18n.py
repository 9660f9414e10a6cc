"""The Chinese catalogue is complete and compiled, and texts are rendered in the reader's language."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from huiju.errors import InputError, NotFoundError
from huiju.i18n import TRANSLATIONS, Message, _, localize, negotiate, normalize
from huiju.labels import TABLES, label, label_with_code
from huiju.models import CaseStatus, Role
from huiju.web.problems import to_problem
from workflows_bpmn.models import InstanceStatus

ROOT = Path(__file__).parents[2]
PACKAGES = ("huiju", "workflows_bpmn", "exchange", "adapters", "certs")
PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def placeholders(text: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


@pytest.fixture(scope="module")
def msgids() -> set[str]:
    """Every message id in the code (``_`` and ``N_``), found the way ``make translations`` finds them."""
    found: set[str] = set()
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), method_map=[("**.py", "python")], keywords={"_": None, "N_": None}
        ):
            assert isinstance(message, str)
            found.add(message)
    return found


def test_every_message_has_a_chinese_translation_with_the_same_placeholders(msgids: set[str]) -> None:
    with PO.open("rb") as f:
        catalogue = read_po(f)
    assert len(msgids) > 150
    problems = []
    for msgid in sorted(msgids):
        entry = catalogue.get(msgid)
        if entry is None or not entry.string:
            problems.append(f"untranslated: {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif placeholders(str(entry.string)) != placeholders(msgid):
            problems.append(f"placeholders differ: {msgid!r} -> {entry.string!r}")
    assert problems == []


def test_the_template_and_the_catalogue_hold_exactly_the_messages_of_the_code(msgids: set[str]) -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    with PO.open("rb") as f:
        translated = {m.id for m in read_po(f) if m.id}
    assert template == msgids, "run `make translations`"
    assert translated == msgids, "run `make translations`"


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with PO.open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with MO.open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert mo == po, "run `make translations` (pybabel compile)"


def _translatable_calls() -> list[tuple[Path, ast.Call]]:
    calls = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
                    calls.append((path, node))
    return calls


def test_message_ids_are_literals_with_named_placeholders_all_given() -> None:
    problems = []
    calls = _translatable_calls()
    assert len(calls) > 150
    for path, call in calls:
        where = f"{path.relative_to(ROOT)}:{call.lineno}"
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
            problems.append(f"{where}: the message id must be one string literal (no f-string, no concatenation)")
            continue
        msgid = call.args[0].value
        names = placeholders(msgid)
        if any(not name or name.isdigit() for name in names):
            problems.append(f"{where}: positional placeholder in {msgid!r}")
        given = {k.arg for k in call.keywords if k.arg is not None}
        spread = any(k.arg is None for k in call.keywords)  # _(..., **fields): checked when rendered
        if not spread and names != given:
            problems.append(f"{where}: placeholders {sorted(names)} but parameters {sorted(given)}")
    assert problems == []


@pytest.mark.parametrize(
    ("tag", "expected"),
    [(None, "zh_CN"), ("", "zh_CN"), ("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("zh_Hans_CN", "zh_CN"),
     ("ZH-tw", "zh_CN"), ("en", "en"), ("en-US", "en"), ("en_GB", "en"), ("fr", "zh_CN")],
)  # fmt: skip
def test_normalize(tag: str | None, expected: str) -> None:
    assert normalize(tag) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh_CN"),
        ("", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("en", "en"),
        ("en-US;q=0.9, zh;q=0.8", "en"),
        ("zh;q=0.8, en-US;q=0.9", "en"),
        ("en;q=0.5, zh-CN", "zh_CN"),
        ("en;q=0, zh;q=0.1", "zh_CN"),
        ("fr-FR, de;q=0.9", "zh_CN"),
        ("fr-FR, en;q=0.3", "en"),
        ("en;q=oops, zh;q=0.5", "zh_CN"),
        ("*", "zh_CN"),
        ("en, zh", "en"),
    ],
)
def test_negotiate_follows_quality_then_order(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_an_error_is_rendered_in_the_readers_language() -> None:
    exc = NotFoundError(_("unknown item '{code}'", code="NO_SUCH_ITEM"))
    assert exc.message == str(exc) == "unknown item 'NO_SUCH_ITEM'"
    assert exc.localized("en") == "unknown item 'NO_SUCH_ITEM'"
    assert exc.localized("zh_CN") == exc.localized("zh-CN") == exc.localized(None) == "未知事项“NO_SUCH_ITEM”"
    assert to_problem(exc, "en")["detail"] == "unknown item 'NO_SUCH_ITEM'"
    assert to_problem(exc, "zh_CN")["detail"] == "未知事项“NO_SUCH_ITEM”"
    plain = InputError("a text that is not translatable")
    assert plain.localized("zh_CN") == plain.message == "a text that is not translatable"


def test_nested_messages_are_rendered_in_the_same_language() -> None:
    text = _("field '{field}' must be {wanted}, not {kind}", field="data", wanted=_("an object"), kind=_("a string"))
    assert str(text) == "field 'data' must be an object, not a string"
    assert localize(text, "zh_CN") == "字段“data”必须是对象，不能是字符串"
    assert Message("no tasks") == _("no tasks") and localize("as it is", "zh_CN") == "as it is"


def test_labels_cover_every_status_and_role_and_keep_unknown_codes() -> None:
    assert {s.value for s in CaseStatus} == set(TABLES["status"])
    assert {r.value for r in Role} <= set(TABLES["role"])  # and the lanes: applicant, system
    assert {s.value for s in InstanceStatus} == set(TABLES["instance"])
    assert label("status", "awaiting_supplement", "zh_CN") == "待补正"
    assert label("outcome", "refused", "zh_CN") == "不予受理"
    assert label("decision", "approve") == "批准"
    # English gets words too, never the code: no code reaches a person in either language.
    assert label("timeline", "task_ready", "en") == "Step opened"
    assert label("status", "awaiting_supplement", "en") == "Awaiting more material"
    assert label("outcome", "something_new", "zh_CN") == "something_new"
    assert label_with_code("decision", "accept", "zh_CN") == "受理(accept)"
    assert label_with_code("decision", "accept", "en") == "Accept(accept)"
