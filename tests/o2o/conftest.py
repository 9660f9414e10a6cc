"""Fixtures of the community-services tests: a runtime on a temporary SQLite file with the
development data (providers, services, slots, the demo family), certificates to sign settlements
with, and a policy short enough that timers fire within a test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certs.store import init_dev_pki
from huiju.app.bootstrap import build_runtime
from huiju.runtime import Runtime
from huiju.services.actors import SYSTEM
from huiju.services.o2o.policy import update_policy
from huiju.settings import load_settings
from tests.support.seeded import seeded_copy


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "certs"
    init_dev_pki(folder)
    return folder


@pytest.fixture
def runtime(tmp_path: Path, pki: Path) -> Iterator[Runtime]:
    seeded_copy(tmp_path)  # no call leaves: the tests answer the outbox themselves
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test", certs_folder=pki), with_celery=False)
    with rt.db.transaction() as session:
        update_policy(session, SYSTEM, {"accept_within": "PT1S"})
    yield rt
    rt.db.dispose()
