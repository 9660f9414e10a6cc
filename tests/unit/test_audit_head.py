"""Appending to the audit trail after the head this process knows: one statement when that head is
still the last entry; when it is not (another process appended since, or the transaction that wrote
it was rolled back), the append reads the head, and the chain stays whole. On each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, select

from huiju.db import Database
from huiju.models import AuditEntry
from huiju.services import audit, audit_trail
from huiju.services.actors import SYSTEM


@pytest.fixture
def db(backend_url: str) -> Iterator[Database]:
    database = Database(backend_url)
    AuditEntry.__table__.create(database.engine)
    yield database
    AuditEntry.__table__.drop(database.engine)
    database.dispose()


def _append(db: Database, target: str) -> list[str]:
    """Record one entry in a transaction of its own: the statements on the audit table it took."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "audit_entry" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.transaction() as session:
            audit.record(session, SYSTEM, "user.enable", target_kind="user", target=target)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return seen


def _ids_and_report(db: Database) -> tuple[list[int], audit_trail.ChainReport]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id))), audit_trail.verify(session)


def test_an_append_after_the_known_head_is_one_statement(db: Database) -> None:
    _append(db, "first")
    assert len(_append(db, "second")) == 1  # the guarded INSERT alone
    ids, report = _ids_and_report(db)
    assert ids == [1, 2] and report.ok


def test_an_append_after_another_process_appended_reads_the_head(db: Database) -> None:
    _append(db, "first")
    known = audit._HEADS[db.url]
    del audit._HEADS[db.url]  # as another process would: it appends without knowing this one's head
    _append(db, "by another process")
    audit._HEADS[db.url] = known  # this process still knows the head it wrote
    statements = _append(db, "third")
    assert len(statements) > 1  # the guarded INSERT wrote nothing; the head was read
    ids, report = _ids_and_report(db)
    assert ids == [1, 2, 3] and report.ok


def test_a_rolled_back_append_leaves_no_head_behind(db: Database) -> None:
    _append(db, "first")
    with pytest.raises(RuntimeError), db.transaction() as session:
        audit.record(session, SYSTEM, "user.enable", target_kind="user", target="rolled back")
        raise RuntimeError("the action failed: its entry goes with it")
    _append(db, "second")
    ids, report = _ids_and_report(db)
    assert ids == [1, 2] and report.ok
