"""Fixtures of the console tests: the web app of ``huiju.app.web.create_app`` (console mounted at
/console) on a temporary SQLite file with the development data and one more officer of the
applicant's community (for transfers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import COLLEAGUE
from flask import Flask
from sqlalchemy import select

from huiju.app.bootstrap import build_runtime
from huiju.app.seed import DEMO_PASSWORD
from huiju.app.web import create_app
from huiju.models import Org, Role, User
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.support.browser import patient_expectations
from tests.support.seeded import seeded_copy

patient_expectations()


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    seeded_copy(tmp_path)
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test"), with_celery=False)
    with rt.db.transaction() as session:
        home = session.scalars(select(Org).where(Org.code == "110105001001")).one()
        colleague = User(
            username=COLLEAGUE, display_name="望京西园社区专干 孙丽", role=Role.COMMUNITY_OFFICER, org=home
        )
        colleague.set_password(DEMO_PASSWORD)
        session.add(colleague)
    yield rt
    rt.db.dispose()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime, {"TESTING": True})
