"""Reference data kept in memory between transactions: the working calendar, the platform's rules.

Nearly every step reads them and an administrator changes them a few times a year, so each process
keeps what it last read, tagged with the *reference version* it saw before reading; a value read
under an older version is never used again. The tables such data is read from are marked
(``__table_args__`` with :func:`table_info`); a session that writes one of them, by a flush of its
objects or by an INSERT, UPDATE or DELETE it executes, calls :func:`changed` for itself (a write
sent through a ``Connection`` must call it by hand). A change so declared, in the transaction that
makes it:

- in that transaction, reads go to the database (they see the uncommitted change);
- when it commits, this process drops what it kept, and tells the other processes:
  on PostgreSQL by ``NOTIFY`` (sent by the database at commit, never for a rollback), which a thread
  of each process waits for on a connection of its own; on a SQLite file by writing a new token into
  a file beside the database, which each read compares with the one it kept.

A process that cannot tell (its listening connection is not up yet, or was lost; the token file
cannot be read) reads the database every time until it can again; a listener that reconnects drops
everything kept, since changes may have gone unheard meanwhile. Another process sees a change a few
milliseconds after its commit: as if it had read just before it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

T = TypeVar("T")

#: Where a session finds its process's cache (:class:`huiju.db.Database` puts it in ``Session.info``).
INFO_KEY = "huiju.reference"
_CHANGED = "huiju.reference.changed"
_LISTENED = "huiju.reference.listened"
#: The PostgreSQL notification channel of reference changes.
CHANNEL = "huiju_reference"
#: The key of a table's ``info`` that marks its rows as reference data.
TABLE_KEY = "huiju.reference"

log = logging.getLogger(__name__)


def _after_fork(owner: object, reset: Callable[[Any], None]) -> None:
    """Call ``reset(owner)`` in a child process forked while ``owner`` lives: a lock held by another
    thread at the fork would be held for ever in the child, where that thread does not exist."""
    ref = weakref.ref(owner)

    def in_child() -> None:
        found = ref()
        if found is not None:
            reset(found)

    os.register_at_fork(after_in_child=in_child)


class Version:
    """How a process learns that another one changed reference data (this base: it never does, which
    is right for a database only this process can open, such as SQLite in memory)."""

    def current(self) -> Hashable | None:
        """The version now; None when it cannot be told (then nothing kept is used)."""
        return 0

    def announce(self, session: Session) -> None:
        """Called in the transaction that changes reference data, before it commits."""

    def committed(self) -> None:
        """Called in this process once that transaction committed."""

    def close(self) -> None:
        """Stop whatever this version runs (a listening thread)."""


class FileVersion(Version):
    """A SQLite file's version: a random token in a file beside it, replaced at every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def current(self) -> Hashable | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError:
            return None

    def committed(self) -> None:
        # A whole new file, renamed over the old one: a reader sees the old token or the new one.
        fresh = self.path.with_name(f"{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            fresh.write_bytes(secrets.token_bytes(16))
            os.replace(fresh, self.path)
        except OSError:
            log.exception("reference data changed, but %s could not be written: other processes keep "
                          "what they read until they restart", self.path)  # fmt: skip
            fresh.unlink(missing_ok=True)


class NotifyVersion(Version):
    """A PostgreSQL database's version: how many notifications on :data:`CHANNEL` this process's
    listening thread has received (counting its reconnections)."""

    def __init__(self, engine: Engine, *, wait: float = 1.0) -> None:
        self._engine = engine
        self._wait = wait
        self._lock = threading.Lock()
        self._generation = 0
        self._listening = False
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _after_fork(self, NotifyVersion._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._pid, self._thread, self._listening = None, None, False

    def current(self) -> Hashable | None:
        if self._pid != os.getpid():  # first use, or a child process forked with this object
            self._start()
        with self._lock:
            return self._generation if self._listening else None

    def announce(self, session: Session) -> None:
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})

    def close(self) -> None:
        # The thread sees it within ``wait`` seconds and closes its connection; nobody waits for it.
        self._stop.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._listening = False
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._listen, name="huiju-reference", daemon=True)
            self._thread.start()

    def _listen(self) -> None:
        import psycopg  # the PostgreSQL driver: present wherever a PostgreSQL URL is used

        dialect = self._engine.dialect
        cargs, cparams = dialect.create_connect_args(self._engine.url)
        told = False  # of the current outage
        while not self._stop.is_set():
            try:
                with psycopg.connect(*cargs, **{**cparams, "autocommit": True}) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    with self._lock:  # anything may have changed while nobody listened
                        self._generation += 1
                        self._listening = True
                    told = False
                    while not self._stop.is_set():
                        for _notice in conn.notifies(timeout=self._wait):
                            with self._lock:
                                self._generation += 1
            except Exception as exc:  # noqa: BLE001 - any loss of the connection: read the database meanwhile
                if not told and not self._stop.is_set():
                    first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
                    log.warning("reference data is read at every use until the database can be listened to "
                                "again: %s", first_line)  # fmt: skip
                    told = True
            with self._lock:
                self._listening = False
            self._stop.wait(self._wait)


def version_for(engine: Engine) -> Version:
    """The version that fits the database behind ``engine``."""
    if engine.dialect.name == "postgresql":
        return NotifyVersion(engine)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return FileVersion(Path(f"{database}-reference"))
    return Version()


class ReferenceCache:
    """The reference data one process keeps, by name (one cache per :class:`huiju.db.Database`)."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self._local = 0  # changes committed by this process
        self._entries: dict[str, tuple[Hashable, Any]] = {}
        self._lock = threading.Lock()
        _after_fork(self, ReferenceCache._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()

    def read(self, session: Session, name: str, load: Callable[[Session], T]) -> T:
        if not session.info.get(_CHANGED) and _writes_reference(session):
            self.changed(session)  # not flushed yet: ``load``'s query flushes it, as it would any query
        if session.info.get(_CHANGED):
            return load(session)
        remote = self.version.current()
        if remote is None:
            return load(session)
        seen = (self._local, remote)  # taken before reading: a change meanwhile makes it stale
        kept = self._entries.get(name)
        if kept is not None and kept[0] == seen:
            return kept[1]  # type: ignore[no-any-return]
        value = load(session)
        with self._lock:
            self._entries[name] = (seen, value)
        return value

    def changed(self, session: Session) -> None:
        if session.info.get(_CHANGED):
            return
        session.info[_CHANGED] = True
        self.version.announce(session)
        if not session.info.get(_LISTENED):  # once per session: its listeners stay for its next transactions
            session.info[_LISTENED] = True
            event.listen(session, "after_commit", self._committed)
            event.listen(session, "after_rollback", _forget_change)

    def _committed(self, session: Session) -> None:
        # Fired for a savepoint released too: only the transaction's own commit counts.
        if session.in_nested_transaction() or not session.info.pop(_CHANGED, None):
            return
        with self._lock:
            self._local += 1
            self._entries.clear()
        self.version.committed()

    def close(self) -> None:
        self.version.close()


def _forget_change(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint rolled back: the transaction goes on
        session.info.pop(_CHANGED, None)


def table_info() -> dict[str, Any]:
    """The ``__table_args__`` entry of a table whose rows are reference data."""
    return {"info": {TABLE_KEY: True}}


def _is_reference(table: Any) -> bool:
    info = getattr(table, "info", None)
    return bool(info and info.get(TABLE_KEY))


def _writes_reference(session: Session) -> bool:
    """Whether ``session`` holds a reference object added, deleted, or with a column changed."""

    def of_reference(objects: Iterable[object]) -> list[object]:
        return [o for o in objects if _is_reference(getattr(type(o), "__table__", None))]

    if of_reference(session.new) or of_reference(session.deleted):
        return True
    return any(session.is_modified(o, include_collections=False) for o in of_reference(session.dirty))


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    # Still the flush's own new, dirty and deleted objects here.
    if not session.info.get(_CHANGED) and _writes_reference(session):
        changed(session)


@event.listens_for(Session, "do_orm_execute")
def _executed(state: Any) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and _is_reference(
        getattr(state.statement, "table", None)
    ):
        changed(state.session)


def cached(session: Session, name: str, load: Callable[[Session], T]) -> T:
    """The reference data ``name``, as ``load`` reads it from ``session``, or as kept since."""
    cache = session.info.get(INFO_KEY)
    return load(session) if cache is None else cache.read(session, name, load)  # type: ignore[no-any-return]


def changed(session: Session) -> None:
    """Declare that ``session``'s transaction changes reference data (before the commit). Writes
    through the session declare themselves; a write sent through a ``Connection`` is declared here."""
    cache = session.info.get(INFO_KEY)
    if cache is not None:
        cache.changed(session)
    else:
        session.info[_CHANGED] = True
