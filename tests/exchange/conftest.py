"""Fixtures for the exchange tests: a temporary SQLite database, and the same on a real PostgreSQL.

The PostgreSQL server (Debian's binaries, started by ``tests.support.servers``) is shared by the
session; each test gets the message log table created afresh and dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import exchange.log  # noqa: F401 - declares the message_log table
import workflows_bpmn.models  # noqa: F401 - the outbox reads its instance's lock version in the same statement
from huiju.db import Base, Database
from tests.support.servers import PostgresServer


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path}/t.db")
    db.create_all()
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_db(postgres: PostgresServer) -> Iterator[Database]:
    db = Database(postgres.url)
    # Only the table under test: other tests may have imported more models into Base.metadata.
    table = Base.metadata.tables["message_log"]
    table.create(db.engine)
    yield db
    table.drop(db.engine)
    db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The test runs once on each database Huiju supports."""
    db: Database = request.getfixturevalue(f"{request.param}_db")
    return db
