"""Fixtures for the adapter tests: one real sandbox over loopback HTTP for the whole session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from adapters.config import AdapterSettings
from adapters.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_sandbox(sandbox: SandboxServer) -> None:
    sandbox.state.reset()


@pytest.fixture
def settings_for(sandbox: SandboxServer) -> Callable[..., AdapterSettings]:
    def make(system: str, **overrides: Any) -> AdapterSettings:
        values: dict[str, Any] = {"connect_timeout": 2.0, "operation_timeout": 5.0, **overrides}
        return AdapterSettings.for_sandbox(system, sandbox.url, **values)

    return make


@pytest.fixture
def new_id() -> Callable[[], str]:
    return lambda: f"test-{uuid.uuid4()}"


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[requests.Session]:
    """A plain HTTP session for the sandbox's JSON control API and raw SOAP posts."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture
def inject(sandbox: SandboxServer, control: requests.Session) -> Callable[..., None]:
    """Add a fault rule through the control API, as an operator or a benchmark would."""

    def add(**rule: Any) -> None:
        response = control.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=5)
        assert response.status_code == 201, response.text

    return add
