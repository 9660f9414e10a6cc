"""SQLite's log is copied back into the database by a thread of the process, not in a commit.

A process that writes starts one checkpointing thread for its database file; its write
connections keep SQLite's automatic checkpoint only as a backstop, at a larger threshold; the
thread ends with ``dispose``. A database in memory has none.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert, select, text

import huiju.db
from huiju.checkpoints import BACKSTOP_PAGES, WalCheckpointer
from huiju.db import Database
from tests.support.polling import eventually

_meta = MetaData()
_blob = Table("checkpoint_blob", _meta, Column("id", Integer, primary_key=True), Column("body", LargeBinary))


def _threads(path: Path | str) -> list[threading.Thread]:
    """The checkpointing threads of the database file at ``path``."""
    return [t for t in threading.enumerate() if t.name == f"sqlite-wal-checkpoint {path}"]


def test_a_writing_process_checkpoints_its_log_in_a_thread_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "huiju.db"
    db = Database(f"sqlite:///{path}")
    try:
        _meta.create_all(db.engine)
        assert not _threads(path), "creating tables starts no thread"
        with db.transaction() as session:
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == BACKSTOP_PAGES
            session.execute(insert(_blob), [{"id": i, "body": bytes(4000)} for i in range(300)])
        assert len(_threads(path)) == 1
        file_size = path.stat().st_size
        # 300 pages are far below the backstop: only the thread copies them into the file.
        assert eventually(lambda: path.stat().st_size >= file_size + 300 * 4000, 30), "the log was never checkpointed"
        with db.transaction() as session:  # a second transaction starts no second thread
            session.execute(insert(_blob).values(id=300, body=b"x"))
        assert len(_threads(path)) == 1
        with db.sessions() as session:
            assert session.scalar(select(_blob.c.body).where(_blob.c.id == 299)) == bytes(4000)
    finally:
        db.dispose()
    assert not _threads(path), "dispose ends the thread"


def test_a_database_in_memory_has_no_checkpointing_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    class Recording(WalCheckpointer):
        def __init__(self, path: str, **kwargs: Any) -> None:
            started.append(path)
            super().__init__(path, **kwargs)

    monkeypatch.setattr(huiju.db, "WalCheckpointer", Recording)
    db = Database("sqlite://")
    try:
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
    finally:
        db.dispose()
    assert started == []


def test_the_thread_waits_for_the_file_and_never_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    checkpointer = WalCheckpointer(str(path), interval=0.05)
    try:
        assert eventually(lambda: checkpointer.rounds == 0 and checkpointer.running, 1.0)
        time.sleep(0.3)
        assert not path.exists()
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x)")
        connection.commit()
        assert eventually(lambda: checkpointer.rounds > 0, 30), "the thread never checkpointed the new file"
        connection.close()
    finally:
        checkpointer.stop()
    assert not checkpointer.running
