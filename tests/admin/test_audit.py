"""The audit trail: appended in order, hash-chained, refused to UPDATE and DELETE by the database,
and a row altered behind the triggers' back is found and named; each entry's before and after in
words for the page (every key the code records has them), the record itself kept as it is."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapters.config import EDITABLE
from huiju.errors import PermissionDenied
from huiju.models import AuditEntry
from huiju.runtime import Runtime
from huiju.services import audit, audit_trail, audit_words
from huiju.services.actors import load_actor
from huiju.services.catalogue import ItemFields

ROOT = Path(__file__).parents[2]


def _record_three(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        admin = load_actor(session, "admin")
        audit.record(
            session,
            admin,
            "user.disable",
            target_kind="user",
            target="officer-chaoyang-02",
            before={"active": True},
            after={"active": False},
            detail="离职",
        )
        audit.record(session, admin, "user.enable", target_kind="user", target="officer-chaoyang-02")
    with audit.from_origin("console", "10.0.0.7"):
        audit.record_read(
            runtime.db,
            load_actor_of(runtime, "officer-chaoyang-01"),
            "case.read",
            target_kind="case",
            target="HJ-1",
            case_number="HJ-1",
            resident_id=1,
        )


def load_actor_of(runtime: Runtime, username: str):  # type: ignore[no-untyped-def]
    with runtime.db.sessions() as session:
        return load_actor(session, username)


def test_entries_are_chained_and_verify(runtime: Runtime) -> None:
    _record_three(runtime)
    with runtime.db.sessions() as session:
        entries = session.query(AuditEntry).order_by(AuditEntry.id).all()
        assert [e.id for e in entries] == [1, 2, 3]
        assert entries[0].prev_hash == audit.GENESIS_HASH
        assert entries[1].prev_hash == entries[0].entry_hash and entries[2].prev_hash == entries[1].entry_hash
        assert entries[0].before == '{"active":true}' and entries[0].channel == "system"
        assert (entries[2].channel, entries[2].address, entries[2].role) == ("console", "10.0.0.7", "community_officer")
        report = audit_trail.verify(session)
    assert report.ok and report.checked == 3 and report.last_id == 3
    assert report.summary().localize("en") == "the audit trail is intact: 3 entries"


def test_the_database_refuses_to_change_or_remove_an_entry(runtime: Runtime) -> None:
    _record_three(runtime)
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.transaction() as session:
        session.execute(text("UPDATE audit_entry SET actor = 'someone-else' WHERE id = 2"))
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.transaction() as session:
        session.execute(text("DELETE FROM audit_entry WHERE id = 3"))


def test_an_entry_altered_behind_the_triggers_is_found_and_named(runtime: Runtime) -> None:
    _record_three(runtime)
    with runtime.db.transaction() as session:  # someone with the database's owner rights
        session.execute(text("DROP TRIGGER audit_entry_no_update"))
        session.execute(text("UPDATE audit_entry SET after = :after WHERE id = 1"), {"after": '{"active":true}'})
    with runtime.db.sessions() as session:
        report = audit_trail.verify(session)
    assert not report.ok and report.first_bad_id == 1 and report.last_id is None
    assert "audit entry 1 was altered" in str(report.summary())
    assert "admin user.disable user:officer-chaoyang-02" in str(report.summary())


def test_a_removed_entry_leaves_a_gap_that_is_named(runtime: Runtime) -> None:
    _record_three(runtime)
    with runtime.db.transaction() as session:
        session.execute(text("DROP TRIGGER audit_entry_no_delete"))
        session.execute(text("DELETE FROM audit_entry WHERE id = 2"))
    with runtime.db.sessions() as session:
        report = audit_trail.verify(session)
    assert not report.ok and report.first_bad_id == 3
    assert str(report.summary()) == "audit entries missing between 1 and 3"


def test_search_and_export_are_for_administrators_and_the_export_is_recorded(runtime: Runtime) -> None:
    _record_three(runtime)
    officer = load_actor_of(runtime, "officer-chaoyang-01")
    admin = load_actor_of(runtime, "admin")
    with runtime.db.sessions() as session:
        with pytest.raises(PermissionDenied):
            audit_trail.search(session, officer, audit_trail.AuditFilter())
        found = audit_trail.search(session, admin, audit_trail.AuditFilter(case_number="HJ-1"))
        assert [e.action for e in found] == ["case.read"]
        assert [e.id for e in audit_trail.search(session, admin, audit_trail.AuditFilter(actor="admin"))] == [2, 1]
    exported = audit_trail.export_csv(runtime.db, admin, audit_trail.AuditFilter(actor="admin"), "zh_CN")
    lines = exported.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("序号,时间（北京时间）,操作人")
    assert len(lines) == 3 and "停用账号" in lines[1] and "officer-chaoyang-02" in lines[1]
    with runtime.db.sessions() as session:
        last = audit_trail.search(session, admin, audit_trail.AuditFilter(), limit=1)[0]
        assert last.action == "audit.export" and audit_trail.verify(session).ok


# --- the page's words --------------------------------------------------------------------------------


def _words(runtime: Runtime, locale: str) -> dict[int, audit_words.EntryWords]:
    with runtime.db.sessions() as session:
        entries = audit_trail.search(session, load_actor(session, "admin"), audit_trail.AuditFilter())
        return audit_words.entry_words(session, entries, locale)


def _cell(pairs: list[audit_words.Pair]) -> dict[str, str]:
    return {p.field: p.value for p in pairs}


def test_an_entry_is_shown_in_words_and_its_record_is_kept_as_it_is(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        admin = load_actor(session, "admin")
        audit.record(session, admin, "user.update", target_kind="user", target="officer-chaoyang-02",
                     before={"role": "community_officer", "office": "110105001002", "display_name": "赵磊", "active": True},
                     after={"role": "street_reviewer", "office": "110105001", "display_name": "赵磊", "active": True})  # fmt: skip
        audit.record(session, admin, "item.update", target_kind="item", target="elderly-care-subsidy",
                     before={"supplement_wait": "P30D", "limit_unit": "working_days", "process_id": "nowhere"},
                     after={"supplement_wait": "P1M2DT12H", "limit_unit": "calendar_days", "process_id": "nowhere"})  # fmt: skip
    zh, en = _words(runtime, "zh_CN"), _words(runtime, "en")
    assert _cell(zh[1].before) == {"角色": "社区专干", "所属单位": "花家地社区"}
    assert _cell(zh[1].after) == {"角色": "街道审核员", "所属单位": "望京街道", "未变": "其余 2 项"}
    assert _cell(en[1].after) == {"Role": "Street reviewer", "Office": "望京街道", "Unchanged": "2 other fields"}
    assert [p.name for p in zh[1].after] == [False, True, False]  # an office's name is shown as it is
    assert _cell(zh[2].after) == {"时限计算单位": "自然日", "补正等待期限": "1 个月 2 天 12 小时", "未变": "其余 1 项"}
    assert _cell(en[2].before) == {
        "Time limits counted in": "working days",
        "How long a supplement may wait": "30 days",
    }
    assert zh[1].target == audit_words.Pair("", "officer-chaoyang-02", True)
    assert (zh[2].target.value, en[2].target.value) == ("居家养老服务补贴", "Home-based elderly care service subsidy")
    with runtime.db.sessions() as session:  # the record keeps its codes: its hash covers them
        entry = session.get(AuditEntry, 1)
        assert entry is not None and '"role":"community_officer"' in (entry.before or "")
        assert audit_trail.verify(session).ok
    exported = audit_trail.export_csv(runtime.db, load_actor_of(runtime, "admin"), audit_trail.AuditFilter())
    assert '""office"":""110105001002""' in exported  # the CSV gives the record as it is


def test_a_key_no_action_records_is_other_detail_never_the_key(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        audit.record(session, load_actor(session, "admin"), "user.enable", target_kind="user", target="x",
                     before={"mystery_flag": False, "colour_code": "dark_blue", "ids": [1, 2, 3]},
                     after={"mystery_flag": True, "colour_code": None, "nested": {"a": 1}})  # fmt: skip
        audit.record(session, load_actor(session, "admin"), "user.enable", target_kind="user", target="y",
                     before=None, after=None, detail="not JSON")  # fmt: skip
    zh, en = _words(runtime, "zh_CN")[1], _words(runtime, "en")[1]
    assert [(p.field, p.value, p.name) for p in zh.before] == [
        ("其他信息", "dark_blue", True), ("其他信息", "3 项", False), ("其他信息", "否", False)]  # fmt: skip
    assert [(p.field, p.value) for p in en.after] == [("Other detail", "—"), ("Other detail", "yes"),
                                                      ("Other detail", "one entry")]  # fmt: skip
    for words in (zh, en):
        assert not {p.field for p in words.before + words.after} & {"mystery_flag", "colour_code", "ids", "nested"}


def test_durations_in_words() -> None:
    assert audit_words.duration_words("P30D", "zh_CN") == "30 天"
    assert audit_words.duration_words("P30D", "en") == "30 days"
    assert audit_words.duration_words("PT15M", "zh_CN") == "15 分钟"
    assert audit_words.duration_words("P1Y2W", "en") == "1 year 2 weeks"  # one of a unit is singular
    assert audit_words.duration_words("PT1H1M", "zh_CN") == "1 小时 1 分钟"
    assert audit_words.duration_words("thirty days") is None and audit_words.duration_words("P") is None


#: The calls that write an entry, and the position of the action among their arguments.
_WRITERS = {"record": 2, "record_case": 2, "record_task": 2, "_audit": 2, "_audited": 0}
#: Helpers whose returned dictionary is an entry's before or after.
_SNAPSHOTS = {"_snapshot", "_before"}


def _literal_keys(node: ast.AST | None) -> set[str]:
    if not isinstance(node, ast.Dict):
        return set()
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _written_keys() -> set[tuple[str, str]]:
    """(action, key) of every key written literally where an entry is recorded, or in a dictionary
    assigned to a name it is given in the same function ("" when the action is not a literal), and
    of the snapshot helpers those calls use."""
    found: set[tuple[str, str]] = set()
    for path in (ROOT / "huiju").rglob("*.py"):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef):
                continue
            if function.name in _SNAPSHOTS:
                for ret in ast.walk(function):
                    if isinstance(ret, ast.Return):
                        found |= {("", key) for key in _literal_keys(ret.value)}
            assigned = {
                target.id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name not in _WRITERS or len(node.args) <= _WRITERS[name]:
                    continue
                action_node = node.args[_WRITERS[name]]
                action = action_node.value if isinstance(action_node, ast.Constant) else ""
                values = [k.value for k in node.keywords if k.arg in ("before", "after")]
                values += list(node.args[_WRITERS[name] + 1 :])  # _audited's dictionary, _audit's before
                values = [assigned.get(v.id, v) if isinstance(v, ast.Name) else v for v in values]
                keys = set().union(*(_literal_keys(v) for v in values))
                if name == "_audit":  # its other keyword arguments are keys of the after
                    keys |= {k.arg for k in node.keywords if k.arg is not None}
                found |= {(str(action), key) for key in keys}
    return found


def test_every_key_written_where_an_entry_is_recorded_has_words() -> None:
    written = _written_keys()
    assert ("certificate.crl", "partner") in written and ("message.retry", "status") in written  # the scan works
    assert (
        ("case.move", "step") in written and ("", "display_name") in written and ("office.create", "parent") in written
    )
    # and what is recorded whole: an item's fields, an adapter's settings, an export's filters
    written |= {("item.update", f.name) for f in dataclasses.fields(ItemFields)}
    written |= {("adapter.update", name) for name in EDITABLE}
    written |= {("audit.export", f.name) for f in dataclasses.fields(audit_trail.AuditFilter)}
    missing = sorted(
        (a, k) for a, k in written if (audit_words.field_of(a, k) if a else audit_words.FIELDS.get(k)) is None
    )
    assert missing == []


def test_a_request_served_in_this_thread_leaves_its_origin_behind_it(runtime: Runtime) -> None:
    from huiju.app.web import create_app

    client = create_app(runtime, {"TESTING": True}).test_client()
    for path in ("/console/login/", "/portal/", "/api/v1/tasks"):
        client.get(path)  # each marks what it records with its channel, in this very thread
        with runtime.db.transaction() as session:
            entry = audit.record(session, load_actor(session, "admin"), "user.enable", target_kind="user",
                                 target="officer-chaoyang-02")  # fmt: skip
        assert (entry.channel, entry.address) == ("system", None), path
