"""Fixtures of the portal tests: the web app of ``huiju.app.web.create_app`` with the portal mounted, on a
temporary SQLite file seeded with the development data (``huiju.app.seed.seed_all``).

Calls made while a resident waits (registration's VerifyIdentity) go to a real sandbox in secure
mode over HTTPS with client certificates, signed and verified with a development PKI made here;
the outbox of the processes is answered in-process (``tests.support.canned``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from adapters.config import AdapterConfig
from adapters.sandbox.server import SandboxServer
from adapters.tls import ServerTls
from certs.store import init_dev_pki, load_signing_identity
from certs.trust import TrustStore
from huiju.app.bootstrap import build_runtime
from huiju.app.web import create_app
from huiju.runtime import Runtime
from huiju.settings import load_settings
from tests.support.browser import patient_expectations
from tests.support.seeded import seeded_copy

patient_expectations()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "certs"
    init_dev_pki(folder)  # what `huiju init` makes: the platform and the sandbox sign
    return folder


@pytest.fixture(scope="session")
def sandbox(pki: Path) -> Iterator[SandboxServer]:
    """The government systems' sandbox in secure mode: it verifies every request, signs every reply."""
    server = SandboxServer(
        port=0, trust=TrustStore.load(pki), signer=load_signing_identity(pki, "sandbox"),
        tls=ServerTls.from_store(pki, "sandbox"),
    )  # fmt: skip
    with server:
        yield server


@pytest.fixture
def runtime(tmp_path: Path, pki: Path) -> Iterator[Runtime]:
    seeded_copy(tmp_path)  # no call leaves the tests: the fixtures answer them
    rt = build_runtime(load_settings(instance_path=tmp_path, env="test", certs_folder=pki), with_celery=False)
    yield rt
    rt.db.dispose()


@pytest.fixture
def citizen_info(runtime: Runtime, sandbox: SandboxServer) -> SandboxServer:
    """The citizen information system's and the SMS platform's adapters pointed at the secure sandbox
    (registration verifies the identity, then sends a code by SMS, both while the resident waits)."""
    with runtime.db.transaction() as session:
        for system in ("citizen_info", "sms"):
            session.execute(
                update(AdapterConfig).where(AdapterConfig.system == system)
                .values(endpoint=f"{sandbox.url}/{system}", operation_timeout=5.0)
            )  # fmt: skip
    return sandbox


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime, {"TESTING": True})  # the portal is mounted by the factory


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
