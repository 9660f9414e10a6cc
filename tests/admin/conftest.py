"""Fixtures of the administration tests: a runtime on a copy of a seeded SQLite file (organisations,
240 residents, one account per role, the shipped processes), made once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from huiju.app.bootstrap import build_runtime
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.support.seeded import seeded_copy


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    seeded_copy(tmp_path)
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test", exchange_signing=False), with_celery=False)
    yield rt
    rt.db.dispose()
