"""SQLite's write-ahead log, copied back into the database by a thread of its own.

In WAL mode a commit appends pages to the log; a *checkpoint* copies them back into the database
file and syncs both to disk. By default SQLite checkpoints inside the commit that makes the log
pass a thousand pages, so that commit's caller — an officer's decision, a worker's reply — waits
for two fsyncs, tens of milliseconds on a shared disk, several times a minute under load. SQLite's
documentation suggests checkpointing in a thread of one's own instead, which this module does.

A passive checkpoint neither blocks nor waits for readers or writers: writers keep appending while
it copies, and it skips the frames a reader still needs (a later round copies them). The
automatic checkpoint stays on as a backstop, at a larger threshold (:data:`BACKSTOP_PAGES`), for
a process that writes without this thread or should it fall behind. Durability is unchanged: a
committed transaction is in the log whichever connection copies it later.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from urllib.parse import quote

log = logging.getLogger(__name__)

#: Seconds between two checkpoints: the log then holds about a second of writes.
INTERVAL_SECONDS = 1.0
#: The automatic checkpoint's threshold in pages (4 KiB each) while this thread runs: ten times
#: SQLite's default, so that it only acts when the thread cannot.
BACKSTOP_PAGES = 10_000


class WalCheckpointer:
    """A daemon thread that checkpoints one SQLite database's log every :data:`INTERVAL_SECONDS`.

    Belongs to the process that started it (:attr:`pid`): a forked child starts its own. It opens
    the database only once it exists (never creating it) and stops with :meth:`stop`.
    """

    def __init__(self, path: str, *, interval: float = INTERVAL_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self.pid = os.getpid()
        #: Checkpoints run so far (for tests and diagnostics).
        self.rounds = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqlite-wal-checkpoint {path}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, *, wait: float = 5.0) -> None:
        """Ask the thread to end, and wait up to ``wait`` seconds for it (0: do not wait)."""
        self._stopped.set()
        if wait and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stopped.wait(self.interval):
                if connection is None:
                    connection = self._connect()
                if connection is not None:
                    self._checkpoint(connection)
        finally:
            if connection is not None:
                connection.close()

    def _connect(self) -> sqlite3.Connection | None:
        # mode=rw: never create the file; the database may not exist yet, or no longer.
        try:
            return sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=0, isolation_level=None)
        except sqlite3.Error:
            return None

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            # Another process's checkpoint holds the log ("database is locked"), or the file is
            # gone: the next round tries again (a gone file stops nothing that still needs it).
            log.debug("checkpoint of %s skipped: %s", self.path, exc)
            return
        if row is not None:
            self.rounds += 1
