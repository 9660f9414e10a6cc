"""Reference data kept between transactions (huiju.reference): read once while nothing changes, read
again in every process once a change commits, never kept from a transaction that changes it — a
change found by itself when a session writes a reference table, flushed or not, by its objects or
by a statement. Two ``Database`` objects on one database stand for two processes. On each backend."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.orm import Session

from huiju import reference
from huiju.calendar import CalendarOverride, CalendarYear, WorkingCalendar
from huiju.db import Database

NEW_YEAR_2031 = date(2031, 1, 2)  # a Thursday: a working day until an override says otherwise


@pytest.fixture
def databases(backend_url: str) -> Iterator[tuple[Database, Database]]:
    """Two processes' views of one database with the calendar's tables."""
    first, second = Database(backend_url), Database(backend_url)
    for table in (CalendarOverride.__table__, CalendarYear.__table__):
        table.create(first.engine)  # type: ignore[attr-defined]
    yield first, second
    second.dispose()
    for table in (CalendarYear.__table__, CalendarOverride.__table__):
        table.drop(first.engine)  # type: ignore[attr-defined]
    first.dispose()


def _statements(db: Database) -> Callable[[], int]:
    """How many statements ``db`` sent since this was called."""
    seen = [0]

    def count(*_args: object) -> None:
        seen[0] += 1

    for engine in db.engines:
        event.listen(engine, "before_cursor_execute", count)
    return lambda: seen[0]


def _working(db: Database) -> bool:
    with db.sessions() as session:
        return WorkingCalendar.load(session).is_working_day(NEW_YEAR_2031)


def _eventually(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _settled(db: Database) -> bool:
    """Whether ``db`` reads the calendar without a statement (no announcement left to hear)."""
    _working(db)
    sent = _statements(db)
    _working(db)
    return sent() == 0


def _listening(db: Database) -> bool:
    return db.reference.version.current() is not None


def _declare_holiday(session: Session) -> None:
    session.add(CalendarOverride(day=NEW_YEAR_2031, kind="holiday", name="元旦"))


def test_the_calendar_is_read_once_while_nothing_changes(databases: tuple[Database, Database]) -> None:
    _first, second = databases
    assert _eventually(lambda: _listening(second))
    assert _working(second)
    sent = _statements(second)
    for _ in range(3):
        assert _working(second)
    assert sent() == 0


def test_a_change_committed_in_one_process_is_read_by_the_other(databases: tuple[Database, Database]) -> None:
    first, second = databases
    assert _eventually(lambda: _listening(second))
    assert _working(first) and _working(second)  # both keep the calendar without the holiday
    with first.transaction() as session:
        _declare_holiday(session)
    assert not _working(first)  # the process that changed it, at once
    assert _eventually(lambda: not _working(second))  # the other, once told


def test_the_changing_transaction_reads_its_own_change_and_a_rollback_keeps_nothing(
    databases: tuple[Database, Database],
) -> None:
    first, _second = databases
    assert _eventually(lambda: _listening(first))
    assert _working(first)
    with pytest.raises(RuntimeError), first.transaction() as session:
        _declare_holiday(session)
        session.flush()
        assert not WorkingCalendar.load(session).is_working_day(NEW_YEAR_2031)
        raise RuntimeError("refused")
    assert _working(first)  # nothing of the rolled-back change was kept


def test_the_changing_transaction_reads_its_change_before_it_is_flushed(databases: tuple[Database, Database]) -> None:
    first, _second = databases
    assert _eventually(lambda: _listening(first))
    assert _working(first)
    with first.transaction() as session:
        _declare_holiday(session)  # pending: the calendar's own query flushes it
        assert not WorkingCalendar.load(session).is_working_day(NEW_YEAR_2031)
    assert not _working(first)


def test_a_savepoint_within_the_changing_transaction_ends_nothing(databases: tuple[Database, Database]) -> None:
    first, second = databases
    assert _eventually(lambda: _listening(second))
    assert _working(first) and _working(second)
    with first.transaction() as session:
        _declare_holiday(session)
        session.flush()
        with session.begin_nested():  # released: not the transaction's commit
            pass
        with pytest.raises(RuntimeError), session.begin_nested():  # rolled back: nor its end
            raise RuntimeError("a savepoint given up")
        assert not WorkingCalendar.load(session).is_working_day(NEW_YEAR_2031)  # its own change, still
    assert not _working(first)
    assert _eventually(lambda: not _working(second))


def test_statements_that_write_a_reference_table_are_changes_too(databases: tuple[Database, Database]) -> None:
    first, second = databases
    assert _eventually(lambda: _listening(second))
    with first.transaction() as session:
        session.execute(insert(CalendarOverride).values(day=NEW_YEAR_2031, kind="holiday", name="元旦"))
    assert _eventually(lambda: not _working(second))
    with first.transaction() as session:
        session.execute(update(CalendarOverride).where(CalendarOverride.day == NEW_YEAR_2031).values(kind="workday"))
    assert _eventually(lambda: _working(second))
    with first.transaction() as session:
        session.execute(delete(CalendarOverride))
        session.add(CalendarOverride(day=NEW_YEAR_2031, kind="holiday", name="元旦"))
    assert _eventually(lambda: not _working(second))
    # A write sent through the connection, past the session, is declared by hand.
    with first.transaction() as session:
        reference.changed(session)
        session.connection().execute(delete(CalendarOverride))
    assert _eventually(lambda: _working(second))


def test_reading_a_reference_row_or_writing_elsewhere_changes_nothing(databases: tuple[Database, Database]) -> None:
    first, second = databases
    assert _eventually(lambda: _listening(second))
    assert _working(second)  # kept: the change below reaches it by its announcement
    with first.transaction() as session:
        _declare_holiday(session)
    assert _eventually(lambda: not _working(second))
    assert _eventually(lambda: _settled(first))  # its own announcement, heard back on PostgreSQL
    sent, sent_first = _statements(second), _statements(first)
    with first.transaction() as session:
        row = session.scalars(select(CalendarOverride)).one()
        row.name = row.name  # set to what it was: nothing changes
        session.execute(text("SELECT 1"))
    written = sent_first()
    assert not _working(first)  # the writing process kept its calendar: no change was declared
    assert not _working(second)
    assert sent_first() == written and sent() == 0


def test_a_listener_that_lost_its_connection_reads_the_database_until_it_is_back(backend_url: str) -> None:
    if not backend_url.startswith("postgresql"):
        pytest.skip("a SQLite file is told by a file, with no connection to lose")
    first, second = Database(backend_url), Database(backend_url)
    for table in (CalendarOverride.__table__, CalendarYear.__table__):
        table.create(first.engine)  # type: ignore[attr-defined]
    try:
        assert _eventually(lambda: _listening(second))
        assert _working(second)
        with first.transaction() as session:  # the listener's connection ends, then a change commits
            session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"))  # fmt: skip
        with first.transaction() as session:
            _declare_holiday(session)
        # Whether the change came before or after the listener was back, the other process reads it.
        assert _eventually(lambda: not _working(second))
        assert _eventually(lambda: _listening(second))
    finally:
        second.dispose()
        for table in (CalendarYear.__table__, CalendarOverride.__table__):
            table.drop(first.engine)  # type: ignore[attr-defined]
        first.dispose()


def test_a_process_forked_while_a_lock_was_held_listens_for_itself(backend_url: str) -> None:
    """A web or worker process forked from one that listens: the parent's thread does not exist in
    the child, which must not inherit its locks held, nor its word that it listens."""
    if not backend_url.startswith("postgresql"):
        pytest.skip("only the PostgreSQL listener runs a thread")
    db = Database(backend_url)
    try:
        assert _eventually(lambda: _listening(db))
        version = db.reference.version
        with version._lock, db.reference._lock:  # type: ignore[attr-defined]  # as the thread may hold it
            child = os.fork()
            if child == 0:  # pragma: no cover - the child's outcome is its exit code
                os._exit(0 if _eventually(lambda: _listening(db), 10) else 1)
        deadline = time.monotonic() + 30
        while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the forked process never answered: it waited for a lock held at the fork")
        assert os.waitstatus_to_exitcode(done[1]) == 0
    finally:
        db.dispose()
