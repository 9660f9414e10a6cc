"""Fixtures of the unit tests that run on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import PostgresServer


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a SQLite file, or the module's PostgreSQL server's."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'unit.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.url
