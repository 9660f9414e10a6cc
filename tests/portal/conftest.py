"""Fixtures of the portal tests: the web app of ``huiju.web.create_app`` with the portal mounted, on a
temporary SQLite file seeded with the development data (``huiju.seed.seed_all``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from huiju.bootstrap import Runtime, build_runtime
from huiju.seed import seed_all
from huiju.settings import load_settings
from huiju.web import create_app


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test"), with_celery=False)
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9/")  # no call leaves the tests: the fixtures answer them
    yield rt
    rt.db.dispose()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime, {"TESTING": True})  # the portal is mounted by the factory


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
