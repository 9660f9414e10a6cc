"""Adapters for integrators: settings checked as a whole and audited; "test connection" against the
real sandbox (secure mode: signed request, verified reply, mTLS), a wrong endpoint explained in words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration_support import secure_runtime, secure_sandbox
from sqlalchemy import select

from adapters.config import get_config
from adapters.sandbox.server import SandboxServer
from exchange.log import MessageLogEntry
from huiju.errors import InputError, PermissionDenied
from huiju.models import AuditEntry
from huiju.runtime import Runtime
from huiju.services import integration
from huiju.services.actors import load_actor
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, Path]]:
    pki = tmp_path_factory.mktemp("pki")
    with secure_sandbox(pki) as server:
        yield server, pki


@pytest.fixture
def secure(tmp_path: Path, sandbox: tuple[SandboxServer, Path]) -> Iterator[Runtime]:
    server, pki = sandbox
    rt = secure_runtime(tmp_path / "secure", pki)
    with rt.db.transaction() as session:
        for system in ("citizen_info", "sms", "egov_approval", "data_exchange"):
            get_config(session, system).endpoint = f"{server.url}/{system}"
    yield rt
    rt.db.dispose()


def _actor(runtime: Runtime, username: str):  # type: ignore[no-untyped-def]
    with runtime.db.sessions() as session:
        return load_actor(session, username)


def test_settings_are_checked_as_a_whole_and_audited(secure: Runtime) -> None:
    integrator = _actor(secure, "integrator")
    cases = [
        ({"endpoint": "http://sms.gov.example/sms"}, "in secure mode an endpoint must use https"),
        ({"endpoint": "ftp://x/"}, "is not an http or https URL"),
        ({"endpoint": "https://user:pw@x/"}, "must not carry a user name or password"),
        ({"operation_timeout": "0"}, r"Call timeout \(s\) must be between 0.1 and 600.0"),
        ({"max_attempts": "2.5"}, "Attempts must be a whole number"),
        ({"connect_timeout": "soon"}, r"Connect timeout \(s\) must be a number"),
        ({"enabled": "perhaps"}, "enabled must be true or false"),
        ({"endpoint": "", "enabled": "true"}, "SMS platform has no endpoint"),
        ({"client_certificate": "Huiju!"}, r"Client certificate \(member\) must name a member"),
        ({"colour": "red"}, "unknown setting 'colour'"),
    ]
    for changes, message in cases:
        with pytest.raises(InputError, match=message), secure.db.transaction() as session:
            integration.configure(session, integrator, "sms", {"max_attempts": "7", **changes}, secure=True)
    with secure.db.transaction() as session:
        assert get_config(session, "sms").max_attempts == 5  # nothing of a refused change was kept
        integration.configure(
            session,
            integrator,
            "sms",
            {"operation_timeout": "4.5", "max_attempts": "7", "endpoint": "https://sms.gov.example/sms"},
            secure=True,
        )
    with secure.db.sessions() as session:
        row = get_config(session, "sms")
        assert (row.operation_timeout, row.max_attempts, row.updated_by) == (4.5, 7, "integrator")
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "adapter.update")).one()
        before = json.loads(entry.before or "{}")
        assert before["endpoint"].endswith("/sms") and before["endpoint"] != row.endpoint
        assert (before["max_attempts"], before["operation_timeout"]) == (5, 10.0)
        assert json.loads(entry.after or "{}")["endpoint"] == "https://sms.gov.example/sms"
    with secure.db.transaction() as session, pytest.raises(PermissionDenied, match="only integrators change"):
        integration.configure(session, _actor(secure, "admin"), "sms", {"max_attempts": "3"}, secure=True)


@pytest.mark.parametrize("system", ["citizen_info", "sms", "egov_approval", "data_exchange"])
def test_test_connection_shows_the_signed_request_and_the_verified_reply(secure: Runtime, system: str) -> None:
    result = integration.test_connection(secure.db, _actor(secure, "integrator"), system, secure.security)
    assert result.ok and result.reached, result.detail
    assert result.reply_signature == "verified" and "sandbox" in (result.signer or "")
    assert result.round_trip_ms is not None and result.round_trip_ms > 0
    assert "SignatureValue" in result.request_xml and "ExchangeHeader" in result.request_xml
    assert "requestHash" in result.reply_xml
    text = result.explanation.localize("en")
    assert "verified" in text or "refused the test request" in text
    with secure.db.sessions() as session:
        logged = session.scalars(select(MessageLogEntry).where(MessageLogEntry.message_id == result.message_id)).all()
        assert [(e.kind.value, e.signature_status.value) for e in logged] == [("request", "valid"), ("reply", "valid")]


def test_a_wrong_endpoint_is_explained_in_words(secure: Runtime) -> None:
    integrator = _actor(secure, "integrator")
    wrong = f"https://127.0.0.1:{free_port()}/sms"
    with secure.db.transaction() as session:
        integration.configure(session, integrator, "sms", {"endpoint": wrong}, secure=True)
    result = integration.test_connection(secure.db, integrator, "sms", secure.security)
    assert not result.ok and not result.reached and result.round_trip_ms is None
    assert result.explanation.localize("en") == (
        f"no connection to {wrong}: nothing answers there, or the connection was refused"
    )
    assert result.explanation.localize("zh_CN").startswith(f"无法连接到 {wrong}")
    assert "SignatureValue" in result.request_xml and result.reply_xml == ""
    with secure.db.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "adapter.test")).one()
        assert json.loads(entry.after or "{}") == {"endpoint": wrong, "ok": False}


def test_a_disabled_adapter_can_be_tested_before_it_is_enabled(secure: Runtime) -> None:
    integrator = _actor(secure, "integrator")
    with secure.db.transaction() as session:
        integration.configure(session, integrator, "citizen_info", {"enabled": "false"}, secure=True)
    assert integration.test_connection(secure.db, integrator, "citizen_info", secure.security).ok
    with secure.db.transaction() as session:
        integration.configure(session, integrator, "citizen_info", {"endpoint": ""}, secure=True)
    with pytest.raises(InputError, match="citizen_info has no endpoint yet"):
        integration.test_connection(secure.db, integrator, "citizen_info", secure.security)
