"""The audit trail: appended in order, hash-chained, refused to UPDATE and DELETE by the database,
and a row altered behind the triggers' back is found and named."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from huiju.errors import PermissionDenied
from huiju.models import AuditEntry
from huiju.runtime import Runtime
from huiju.services import audit, audit_trail
from huiju.services.actors import load_actor


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
