"""Fixtures for the engine tests: a real sandbox on loopback, and a seeded runtime per test.

Seeding (240 residents, accounts with hashed passwords, the deployed process) is done once into a
template SQLite file, which each test copies into its own instance folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from process_support import make  # noqa: F401 - the fixture of the small processes' tests

from adapters.sandbox.server import SandboxServer
from huiju.app.bootstrap import build_runtime
from huiju.app.seed import seed_all
from huiju.runtime import Runtime
from huiju.settings import load_settings

DB_FILE = "huiju.db"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Path:
    folder = tmp_path_factory.mktemp("template")
    rt = build_runtime(load_settings(instance_path=folder, env="test", exchange_signing=False), with_celery=False)
    rt.db.create_all()
    with rt.db.transaction() as session:
        seed_all(session, sandbox.url)
    rt.db.dispose()  # the last connection closes: the WAL is checkpointed into the file
    return folder


def runtime_from(template: Path, folder: Path) -> Runtime:
    for path in template.glob(f"{DB_FILE}*"):
        shutil.copy(path, folder / path.name)
    return build_runtime(load_settings(instance_path=folder, env="test", exchange_signing=False), with_celery=False)


@pytest.fixture
def rt(seeded_template: Path, tmp_path: Path, sandbox: SandboxServer) -> Iterator[Runtime]:
    sandbox.state.reset()
    runtime = runtime_from(seeded_template, tmp_path)
    yield runtime
    runtime.db.dispose()
