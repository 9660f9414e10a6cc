"""Read-only sessions: a read never takes the write lock, and a write in one fails at once.

On SQLite a writing transaction begins IMMEDIATE (it holds the database's one write lock from its
start); a reading session begins deferred and, in WAL mode, reads the last committed snapshot
beside it. On PostgreSQL a reading session is a READ ONLY transaction. Both run on each backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from huiju.db import Database

_meta = MetaData()
_note = Table("read_lock_note", _meta, Column("id", Integer, primary_key=True), Column("body", String(50)))


@pytest.fixture
def db(backend_url: str) -> Iterator[Database]:
    database = Database(backend_url)
    _meta.create_all(database.engine)
    with database.transaction() as session:
        session.execute(insert(_note).values(id=1, body="committed"))
    yield database
    _meta.drop_all(database.engine)
    database.dispose()


def test_a_read_proceeds_while_a_writer_holds_the_lock(db: Database) -> None:
    holding, release, finished = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with db.transaction() as session:
                session.execute(update(_note).where(_note.c.id == 1).values(body="uncommitted"))
                session.execute(select(_note).where(_note.c.id == 1).with_for_update())
                holding.set()
                assert release.wait(60), "the test never let the writer go"
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            holding.set()
            finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30) and not errors, errors
        if db.is_sqlite:  # the writer really holds SQLite's write lock: another writer cannot begin
            raw = db.engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
                with pytest.raises(Exception, match="locked"):
                    raw.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
            finally:
                raw.close()
        # A blocked read would wait for the busy timeout (15 s) and then fail "database is locked".
        with db.sessions() as session:
            body = session.scalar(select(_note.c.body).where(_note.c.id == 1))
        assert body == "committed", "a read sees the last committed state, never the writer's"
        assert not finished.is_set(), "the read finished while the writer still held its transaction"
    finally:
        release.set()
        thread.join(30)
    assert not errors, errors
    with db.sessions() as session:
        assert session.scalar(select(_note.c.body).where(_note.c.id == 1)) == "uncommitted"


@pytest.mark.parametrize(
    "statement",
    [
        insert(_note).values(id=2, body="sneaked in"),
        update(_note).values(body="changed"),
        text("DELETE FROM read_lock_note"),
    ],
    ids=["insert", "update", "delete"],
)
def test_a_read_only_session_refuses_to_write(db: Database, statement: object) -> None:
    with db.sessions() as session, pytest.raises(DBAPIError, match="(?i)read.?only|readonly"):
        session.execute(statement)  # type: ignore[call-overload]
    with db.sessions() as session:
        assert session.execute(select(_note.c.id, _note.c.body)).all() == [(1, "committed")]


def test_a_writing_transaction_still_writes(db: Database) -> None:
    with db.transaction() as session:
        session.execute(insert(_note).values(id=3, body="written"))
    with db.sessions() as session:
        assert session.scalar(select(_note.c.body).where(_note.c.id == 3)) == "written"
