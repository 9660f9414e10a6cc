"""The sandbox's own file: its journal, what each system stored, and the callbacks it still owes.

A real government system does not forget a message when its process restarts: a SendSms retried
under the same message id after a restart must get the stored answer, not a second SMS, and a
decision the extranet has taken must still be called back. So the sandbox keeps, in one SQLite
file of its own (``sandbox.db`` in its data folder, WAL journal), what its memory holds:

- ``journal``: every message id acted on, with the digest of its Body and the signed reply sent;
- ``store``: the SMS sent, the cases received, the records published, and the number counter;
- ``callback``: every callback owed or sent, with its attempts and how it ended.

One request acts, journals, stores and owes its callbacks in one SQLite transaction
(:meth:`Disk.commit_act`): a process killed before the commit did nothing a retry would not do
again, and one killed after it answers the retry from the journal. SQLite survives the death of
the process at any point (its WAL is recovered on open); ``synchronous=NORMAL`` gives up only the
last commits of a machine that loses power, as the demo and the tests can afford.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "sandbox.db"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS journal (
        message_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, entry TEXT NOT NULL, reply BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS store (
        kind TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (kind, key))""",
    """CREATE TABLE IF NOT EXISTS callback (
        message_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, value TEXT NOT NULL)""",
)


@dataclass(frozen=True, slots=True)
class StoredRow:
    kind: str
    key: str
    value: dict[str, Any]


class Disk:
    """The file; every method is safe to call from the sandbox's threads (one lock, one connection)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / FILE_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        last = self._scalar(
            "SELECT max(m) FROM (SELECT max(seq) AS m FROM journal UNION ALL "
            "SELECT max(seq) FROM store UNION ALL SELECT max(seq) FROM callback)"
        )
        self._seq = int(last or 0)

    def _scalar(self, sql: str) -> Any:
        row = self._db.execute(sql).fetchone()
        return row[0] if row else None

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------------------

    def commit_act(
        self,
        journal: tuple[str, dict[str, Any], bytes] | None,
        stored: Iterable[StoredRow],
        callbacks: Iterable[dict[str, Any]],
    ) -> None:
        """What one request did, all or nothing: its journal entry, the records it stored or
        changed, and the callbacks it owes."""
        with self._transaction() as db:
            if journal is not None:
                message_id, entry, reply = journal
                db.execute(
                    "INSERT INTO journal (message_id, seq, entry, reply) VALUES (?, ?, ?, ?)",
                    (message_id, self._next(), json.dumps(entry, ensure_ascii=False), reply),
                )
            for row in stored:
                db.execute(
                    "INSERT INTO store (kind, key, seq, value) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                    (row.kind, row.key, self._next(), json.dumps(row.value, ensure_ascii=False)),
                )
            for callback in callbacks:
                self._put_callback(db, callback)

    def update_journal(self, message_id: str, entry: dict[str, Any]) -> None:
        """A repeat was answered from the journal: its count and time."""
        with self._transaction() as db:
            db.execute("UPDATE journal SET entry = ? WHERE message_id = ?",
                       (json.dumps(entry, ensure_ascii=False), message_id))  # fmt: skip

    def save_callback(self, callback: dict[str, Any]) -> None:
        with self._transaction() as db:
            self._put_callback(db, callback)

    def _put_callback(self, db: sqlite3.Connection, callback: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO callback (message_id, seq, value) VALUES (?, ?, ?) "
            "ON CONFLICT (message_id) DO UPDATE SET value = excluded.value",
            (callback["message_id"], self._next(), json.dumps(callback, ensure_ascii=False)),
        )

    def clear(self) -> None:
        with self._transaction() as db:
            for table in ("journal", "store", "callback"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table names

    # -- reading (at start-up) ---------------------------------------------------------------------

    def journal(self) -> list[tuple[dict[str, Any], bytes]]:
        with self._lock:
            rows = self._db.execute("SELECT entry, reply FROM journal ORDER BY seq").fetchall()
        return [(json.loads(entry), bytes(reply)) for entry, reply in rows]

    def stored(self) -> list[StoredRow]:
        """Every stored row, in the order first written (an update keeps a row's place)."""
        with self._lock:
            rows = self._db.execute("SELECT kind, key, value FROM store ORDER BY rowid").fetchall()
        return [StoredRow(kind, key, json.loads(value)) for kind, key, value in rows]

    def callbacks(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT value FROM callback ORDER BY rowid").fetchall()
        return [json.loads(value) for (value,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
