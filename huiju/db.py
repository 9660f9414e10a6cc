"""Database engine and sessions (SQLAlchemy 2).

One :class:`Database` per process, built by the application factory, the CLI or the worker from
the settings; nothing is connected at import time. Services receive a ``Session`` and own their
transaction through :meth:`Database.transaction`; reads use :attr:`Database.sessions`, whose
connections refuse to write (``PRAGMA query_only`` on SQLite, ``default_transaction_read_only`` on
PostgreSQL) and, on SQLite, begin deferred: a read never waits for the write lock (WAL); on
PostgreSQL each read statement is a transaction of its own (autocommit). A process that writes to a
SQLite file copies its log back into the database in a thread of its own (:mod:`huiju.checkpoints`).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import (
    Column,
    ColumnDefault,
    DateTime,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import MANYTOONE, DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator

from huiju.checkpoints import BACKSTOP_PAGES, WalCheckpointer
from huiju.errors import ConfigurationError
from huiju.i18n import _
from huiju.reference import INFO_KEY as REFERENCE_KEY
from huiju.reference import ReferenceCache, version_for

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back offset-aware (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event (below) open transactions, not the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_writer_pragmas(dbapi_connection: Any, _record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, _record)
    # The log is checkpointed by a thread of its own (huiju.checkpoints), not in a commit.
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    # A connection of the reading pool: any INSERT, UPDATE, DELETE or DDL fails at once.
    _sqlite_pragmas(dbapi_connection, _record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


WRITE_OPTION = "huiju_write"
#: The largest INTEGER of every supported database (PostgreSQL's is 32 bits): ids and counts the web
#: takes in are bounded by it, so that a larger one is refused in words, not by an overflow.
INT_MAX = 2**31 - 1
#: Where a session's ``info`` keeps (a weak reference to) its :class:`Database`.
_DATABASE_KEY = "huiju_database"


def writes(session: Session) -> bool:
    """Whether ``session`` is a writing one (:meth:`Database.transaction`), not a read."""
    return bool(session.get_bind().get_execution_options().get(WRITE_OPTION))


def _sqlite_begin(connection: Any) -> None:
    # SQLite has one writer at a time. A writing transaction takes the write lock when it starts,
    # not at its first write: that turns the engine step's read-modify-write into a critical
    # section and avoids the "database is locked" deadlock of two readers upgrading at once.
    # Read-only sessions begin deferred and never wait for a writer (WAL).
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def _sqlite_file(engine: Engine) -> str | None:
    """The path of the file of a SQLite database; None for another database or one in memory."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
        return None
    return database


def json_text(value: Any) -> str:
    """The text of a JSON column: compact, Chinese as itself (not six-byte escapes), written by
    orjson (several times faster than the standard library, which JSON columns used before). What
    orjson cannot write (an integer beyond 64 bits, a date) goes to the standard library, which
    writes it or refuses it as it always did."""
    try:
        return orjson.dumps(value, option=ORJSON_OPTIONS).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


#: orjson's options wherever Huiju writes JSON with it: keys of any simple type become text, as the
#: standard library makes them; dates, times and dataclasses go to ``default`` (orjson would write
#: them as text), or are refused where there is none, as the standard library refuses them.
ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _create_engine(url: str, *, echo: bool, read_only: bool) -> Engine:
    kwargs: dict[str, Any] = {"echo": echo, "json_serializer": json_text, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        kwargs["pool_pre_ping"] = True
        if read_only and url.startswith("postgresql"):
            kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
            # Each statement its own (read-only) transaction: at READ COMMITTED a statement sees
            # what was committed before it began, in a transaction or not, and a read then costs no
            # BEGIN and no ROLLBACK (two round trips of every checkout).
            kwargs["isolation_level"] = "AUTOCOMMIT"
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_read_only if read_only else _sqlite_writer_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


class Database:
    """Two connection pools on one database: one that writes (:meth:`transaction`, and the schema
    tools through :attr:`engine`) and one that only reads (:attr:`sessions`)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = _create_engine(url, echo=echo, read_only=False)
        self.read_engine: Engine = _create_engine(url, echo=echo, read_only=True)
        #: The reference data this process keeps between transactions (see :mod:`huiju.reference`).
        self.reference = ReferenceCache(version_for(self.engine))
        info: dict[str, Any] = {REFERENCE_KEY: self.reference, _DATABASE_KEY: weakref.ref(self)}
        #: Sessions for reading (never committed; a write in one fails); use :meth:`transaction` to write.
        self.sessions = sessionmaker(self.read_engine, expire_on_commit=False, info=info)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False, info=info
        )
        #: The file of a SQLite database, whose log this process checkpoints once it writes.
        self._sqlite_file = _sqlite_file(self.engine)
        self._checkpointer: WalCheckpointer | None = None

    @staticmethod
    def of(session: Session) -> Database:
        """The database a session of :attr:`sessions` or :meth:`transaction` belongs to: for the rare
        write a read must cause (a password's hash renewed at sign-in)."""
        ref = session.info.get(_DATABASE_KEY)
        database = ref() if ref is not None else None
        if database is None:
            raise ConfigurationError(_("this session does not belong to a database of this process"))
        return cast(Database, database)

    @property
    def engines(self) -> tuple[Engine, Engine]:
        """Both pools (the writing one first): for listeners that count every statement."""
        return self.engine, self.read_engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def create_all(self) -> None:
        """Create the tables of every model module imported so far (see ``huiju.app.bootstrap``)."""
        Base.metadata.create_all(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        if self._sqlite_file is not None:
            self._checkpoint_in_background(self._sqlite_file)
        with self._write_sessions() as session, session.begin():
            yield session

    def _checkpoint_in_background(self, path: str) -> None:
        checkpointer = self._checkpointer
        if checkpointer is None or checkpointer.pid != os.getpid():  # none yet, or the parent's before a fork
            self._checkpointer = WalCheckpointer(path)
            weakref.finalize(self, self._checkpointer.stop, wait=0)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.reference.close()
        self.engine.dispose()
        self.read_engine.dispose()


#: The upsert of each counter table (and table it reserves an id of), built once per dialect.
_COUNT_UP: dict[tuple[str, str, str | None], Any] = {}


def count_up(session: Session, table: Table, key: str) -> int:
    """The next number of the series ``key`` in ``table`` (a counter table: its key, and ``last``).

    The series' row is incremented by one upsert in the caller's transaction: concurrent callers
    wait for each other on that row (PostgreSQL) or the database (SQLite), so no two get the same
    number, and a transaction rolled back gives its number back. Never count rows and add one.
    """
    return int(session.connection().execute(_count_up(session, table, None), {"series": key}).scalar_one())


def count_up_and_reserve(session: Session, table: Table, key: str, reserve: Table) -> tuple[int, int]:
    """:func:`count_up`, and in the same statement an id for the next row of ``reserve``, which the
    caller inserts with that id later in this transaction (so a row written before it can point to it).

    PostgreSQL takes the id from the table's sequence. SQLite gives a new row the largest id plus
    one, and nobody else writes while this transaction holds the database: the caller must insert
    the reserved row before any other row of ``reserve``.
    """
    statement = _count_up(session, table, reserve)
    number, reserved = session.connection().execute(statement, {"series": key}).one()
    return int(number), int(reserved)


def _count_up(session: Session, table: Table, reserve: Table | None) -> Any:
    """The counter's upsert (built once per dialect and tables), returning ``last`` and, with
    ``reserve``, the next id of that table."""
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, table.name, reserve.name if reserve is not None else None)
    statement = _COUNT_UP.get(cache_key)
    if statement is None:
        [key_column] = table.primary_key.columns
        upsert = _insert_of(dialect)(table).values({key_column.name: bindparam("series"), "last": 1})
        upsert = upsert.on_conflict_do_update(index_elements=[key_column], set_={"last": table.c.last + 1})
        returned: list[Any] = [table.c.last]
        if reserve is not None:
            returned.append(_next_id(dialect, reserve))
        statement = _COUNT_UP.setdefault(cache_key, upsert.returning(*returned))
    return statement


def _next_id(dialect: str, table: Table) -> Any:
    """An expression of the id the next row of ``table`` is to have (see :func:`count_up_and_reserve`)."""
    if dialect == "postgresql":
        return func.nextval(func.pg_get_serial_sequence(f'"{table.name}"', "id"))  # quoted: "case" is a keyword
    return select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()


def insert_unless_exists(session: Session, table: Table, unique: Column[Any], **values: Any) -> int | None:
    """Insert a row unless one with the same value of the ``unique`` column exists, in one statement
    (``INSERT ... ON CONFLICT DO NOTHING``): the new row's id, or None when there was one already."""
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, table, unique.key, *sorted(values))
    statement = _INSERT_UNLESS.get(cache_key)
    if statement is None:
        statement = _INSERT_UNLESS.setdefault(
            cache_key,
            _insert_of(dialect)(table)
            .values({key: bindparam(key) for key in values})
            .on_conflict_do_nothing(index_elements=[unique])
            .returning(table.c.id),
        )
    found = session.connection().execute(statement, values).scalar_one_or_none()
    return int(found) if found is not None else None


#: :func:`insert_unless_exists`'s statements, built once per dialect, table and columns.
_INSERT_UNLESS: dict[tuple[Any, ...], Any] = {}


RowT = TypeVar("RowT", bound=DeclarativeBase)


def insert_row(session: Session, row: RowT) -> RowT:
    """Insert a new mapped object with one prepared ``INSERT ... RETURNING id`` instead of a flush of
    the unit of work (which weighs every relationship of the class: about half a millisecond for one
    row), and give it back as a row of the session, as a flush leaves it: with its id, every column
    loaded, nothing to write.

    Each column but the id is written as the object holds it, its Python default applied first
    where it holds None (server-side defaults are not read back: not for tables that have them). A
    row set to another by object (``case.item = item``) gets that row's id in its foreign key, as a
    flush would give it; the other row must have been written already.
    """
    plan = _row_plan(type(row))
    for key, pairs in plan.parents:
        parent = row.__dict__.get(key)  # as set on the object: never loaded here
        if parent is None:
            continue
        for local_key, remote_key in pairs:
            parent_id = getattr(parent, remote_key)
            if parent_id is None:
                raise ValueError(f"insert_row: the {key} of a new {type(row).__name__} is not written yet")
            if getattr(row, local_key) is None:
                setattr(row, local_key, parent_id)
    values: dict[str, Any] = {}
    for name, key, default in plan.columns:
        value = getattr(row, key)
        if value is None and default is not None:
            value = default.arg(None) if default.is_callable else default.arg
        setattr(row, key, value)  # held, even None: an attribute never set would be read again
        values[name] = value
    row.id = session.connection().execute(plan.statement, values).scalar_one()  # type: ignore[attr-defined]
    make_transient_to_detached(row)
    session.add(row)
    return row


@dataclass(frozen=True)
class _RowPlan:
    """What :func:`insert_row` needs of a mapped class, worked out once per class."""

    #: Its many-to-one relationships: (key, [(the foreign key's attribute, the other row's attribute)]).
    parents: list[tuple[str, list[tuple[str, str]]]]
    #: Its columns but the id: (column name, attribute, Python default or None).
    columns: list[tuple[str, str, ColumnDefault | None]]
    #: ``INSERT ... RETURNING id`` of those columns.
    statement: Any


def _row_plan(cls: type[Any]) -> _RowPlan:
    plan = _ROW_PLANS.get(cls)
    if plan is None:
        mapper = sa_inspect(cls)
        table = cast(Table, mapper.local_table)
        columns = [
            (column.key, mapper.get_property_by_column(column).key,
             column.default if isinstance(column.default, ColumnDefault) else None)
            for column in table.columns if not column.primary_key
        ]  # fmt: skip
        parents = [
            (rel.key, [(mapper.get_property_by_column(local).key, rel.mapper.get_property_by_column(remote).key)
                       for local, remote in rel.local_remote_pairs])
            for rel in mapper.relationships if rel.direction is MANYTOONE
        ]  # fmt: skip
        statement = insert(table).values({name: bindparam(name) for name, _key, _default in columns})
        plan = _ROW_PLANS.setdefault(cls, _RowPlan(parents, columns, statement.returning(table.c.id)))
    return plan


#: :func:`insert_row`'s plans, by mapped class (not by table name: two metadata may each have a
#: table of the same name).
_ROW_PLANS: dict[type[Any], _RowPlan] = {}


def _insert_of(dialect: str) -> Callable[[Table], Any]:
    """The ``insert`` of ``dialect`` that knows ``ON CONFLICT``."""
    if dialect == "sqlite":
        return sqlite.insert
    if dialect == "postgresql":
        return postgresql.insert
    raise ConfigurationError(_("this needs SQLite or PostgreSQL, not {dialect}", dialect=dialect))
