"""Fixtures for the engine tests: a real sandbox on loopback, and a seeded runtime per test.

Seeding (240 residents, accounts with hashed passwords, the deployed process) is done once into a
template SQLite file, which each test copies into its own instance folder (``tests.support.seeded``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from process_support import make  # noqa: F401 - the fixture of the small processes' tests

from adapters.sandbox.server import SandboxServer
from huiju.app.bootstrap import build_runtime
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.support.seeded import seeded_copy


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture
def rt(tmp_path: Path, sandbox: SandboxServer) -> Iterator[Runtime]:
    sandbox.state.reset()
    seeded_copy(tmp_path, sandbox.url)
    runtime = build_runtime(
        load_settings(instance_path=tmp_path, env="test", exchange_signing=False), with_celery=False
    )
    yield runtime
    runtime.db.dispose()
