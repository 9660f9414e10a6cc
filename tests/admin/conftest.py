"""Fixtures of the administration tests: a runtime on a copy of a seeded SQLite file (organisations,
240 residents, one account per role, the shipped processes), made once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.runtime import Runtime
from huiju.settings import load_settings

DB_FILE = "huiju.db"


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("admin-template")
    rt = build_runtime(load_settings(instance_path=folder, env="test", exchange_signing=False), with_celery=False)
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_all(session, "http://127.0.0.1:9/")
    rt.db.dispose()
    return folder


@pytest.fixture
def runtime(tmp_path: Path, seeded_template: Path) -> Iterator[Runtime]:
    shutil.copy(seeded_template / DB_FILE, tmp_path / DB_FILE)
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test", exchange_signing=False), with_celery=False)
    yield rt
    rt.db.dispose()
