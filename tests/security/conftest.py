"""Fixtures of the security suite: a seeded runtime on each backend where it matters (SQLite with
in-process counters; a throw-away PostgreSQL with a throw-away Redis holding the counters), the web
app of ``huiju.app.web.create_app``, and a development PKI."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import create_engine, text

from certs.store import init_dev_pki
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.app.web import create_app
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.support.seeded import seeded_copy
from tests.support.servers import PostgresServer, RedisServer

_numbers = itertools.count()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "certs"
    init_dev_pki(folder)
    return folder


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One PostgreSQL and one Redis for the whole suite, started on first use."""
    with PostgresServer() as pg, RedisServer(tmp_path_factory.mktemp("redis")) as rd:
        yield {"postgresql": pg.url, "redis": rd.url}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings of one backend: SQLite and memory:// counters, or a new PostgreSQL database and
    Redis counters (emptied for the test)."""
    if request.param == "sqlite":
        return {}
    urls: dict[str, str] = request.getfixturevalue("servers")
    name = f"security_{next(_numbers)}"
    admin = create_engine(urls["postgresql"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    redis.Redis.from_url(urls["redis"]).flushall()
    return {"database_url": urls["postgresql"].rsplit("/", 1)[0] + f"/{name}", "ratelimit_storage": urls["redis"]}


def make_runtime(folder: Path, pki: Path, **settings: Any) -> Runtime:
    values: dict[str, Any] = {"instance_path": folder, "env": "test", "certs_folder": pki, **settings}
    if "database_url" not in values:
        seeded_copy(folder)  # no call leaves these tests
        return build_runtime(load_settings(**values), with_celery=False)
    rt = build_runtime(load_settings(**values), with_celery=False)
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9/")  # no call leaves these tests
    return rt


@pytest.fixture
def runtime(tmp_path: Path, pki: Path, backend: dict[str, Any]) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path, pki, **backend)
    yield rt
    rt.db.dispose()


@pytest.fixture
def sqlite_runtime(tmp_path: Path, pki: Path) -> Iterator[Runtime]:
    """For checks that no database changes (headers, uploads, validation)."""
    rt = make_runtime(tmp_path, pki)
    yield rt
    rt.db.dispose()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime, {"TESTING": True})
