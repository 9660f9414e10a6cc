"""``insert_row``: a new object written by one prepared INSERT, and left as a flush leaves it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, ForeignKey, String, cast, event, inspect, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from huiju.db import Database, UTCDateTime, insert_row

FIXED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class Base(DeclarativeBase):
    """The test's own tables, out of Huiju's metadata."""


class RowParent(Base):
    __tablename__ = "insert_row_parent"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class RowChild(Base):
    __tablename__ = "insert_row_child"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("insert_row_parent.id"))
    title: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(default=7)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=lambda: FIXED)
    note: Mapped[str | None] = mapped_column(String(20))
    parent: Mapped[RowParent] = relationship()


@pytest.fixture
def db(backend_url: str) -> Iterator[Database]:
    database = Database(backend_url)
    tables = [RowParent.__table__, RowChild.__table__]
    Base.metadata.create_all(database.engine, tables=tables)  # type: ignore[arg-type]
    yield database
    Base.metadata.drop_all(database.engine, tables=tables)  # type: ignore[arg-type]
    database.dispose()


def test_a_row_is_written_by_one_statement_and_held_as_written(db: Database) -> None:
    with db.transaction() as session:
        parent = RowParent(name="望京")
        session.add(parent)
        session.flush()
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            child = insert_row(session, RowChild(parent_id=parent.id, title="受理通知书", facts={"k": "v"}))
            second = insert_row(session, RowChild(parent_id=parent.id, title="准予决定书", size=3))
            state = inspect(child)
            assert state.persistent and not state.modified and not state.expired_attributes and child in session
            assert not session.new and not session.dirty  # the commit's flush has nothing to write
            # Defaults applied, and every column held: reading one issues nothing.
            assert (child.size, child.facts, child.at, child.note) == (7, {"k": "v"}, FIXED, None)
            assert second.id != child.id and second.size == 3 and second.facts == {}
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert len(statements) == 2 and all(s.lstrip().upper().startswith("INSERT") for s in statements)
        assert child.parent is parent  # relationships load as for any row
        assert session.get(RowChild, child.id) is child
    with db.sessions() as session:
        stored = session.scalars(select(RowChild).order_by(RowChild.id)).all()
        assert [(r.title, r.size, r.facts, r.at) for r in stored] == [
            ("受理通知书", 7, {"k": "v"}, FIXED),
            ("准予决定书", 3, {}, FIXED),
        ]


def test_a_row_set_to_another_by_object_gets_its_id(db: Database) -> None:
    """``child.parent = parent`` fills ``parent_id``, as a flush would; a parent not written yet is
    refused before anything is sent."""
    with db.transaction() as session:
        parent = RowParent(name="望京")
        session.add(parent)
        session.flush()
        child = insert_row(session, RowChild(parent=parent, title="受理通知书"))
        assert child.parent_id == parent.id and child.parent is parent
        assert not session.new and not session.dirty
        with pytest.raises(ValueError, match="the parent of a new RowChild is not written yet"):
            insert_row(session, RowChild(parent=RowParent(name="花家地"), title="x"))
    with db.sessions() as session:
        assert session.execute(select(RowChild.title, RowChild.parent_id)).all() == [("受理通知书", parent.id)]
        assert session.scalars(select(RowParent.name)).all() == ["望京"]


def test_a_row_inserted_then_rolled_back_is_gone(db: Database) -> None:
    with db.transaction() as session:
        parent = RowParent(name="望京")
        session.add(parent)
    with pytest.raises(RuntimeError), db.transaction() as session:
        insert_row(session, RowChild(parent_id=parent.id, title="x"))
        raise RuntimeError("the step failed")
    with db.sessions() as session:
        assert session.scalars(select(RowChild)).all() == []


def test_json_columns_are_compact_and_keep_chinese_as_itself(db: Database) -> None:
    """JSON columns are written by orjson: compact, Chinese as itself; what orjson cannot write goes
    to the standard library, which writes a very large integer and refuses a date, as it always did."""
    facts = {"opinion": "材料齐全，同意受理", 7: [1.5, None, True], "census": 2**70}
    with db.transaction() as session:
        parent = RowParent(name="望京")
        session.add(parent)
        session.flush()
        child = insert_row(session, RowChild(parent_id=parent.id, title="t", facts=facts))
    with db.sessions() as session:
        text_ = session.scalar(select(cast(RowChild.facts, String)).where(RowChild.id == child.id))
        stored = session.scalar(select(RowChild.facts).where(RowChild.id == child.id))
    assert text_ is not None and "材料齐全，同意受理" in text_ and "\\u" not in text_
    assert stored == {"opinion": "材料齐全，同意受理", "7": [1.5, None, True], "census": 2**70}
    with pytest.raises((StatementError, TypeError), match="date is not JSON serializable"), db.transaction() as session:
        insert_row(session, RowChild(parent_id=parent.id, title="d", facts={"due": date(2026, 4, 1)}))
