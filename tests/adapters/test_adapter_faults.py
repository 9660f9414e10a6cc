"""Injected faults, latency and transport failures map to transient or permanent errors."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import requests
from lxml import etree
from zeep.exceptions import Fault

from adapters.client import GuardedTransport, LoadRefused, ReplyTooLarge, call, translate
from adapters.config import AdapterSettings
from adapters.sandbox.server import SandboxServer
from huiju.errors import AdapterError, PermanentAdapterError, TransientAdapterError

Settings = Callable[..., AdapterSettings]
Inject = Callable[..., None]
QUERY = {"id_number": "110105193801012340"}


@pytest.mark.parametrize(
    ("mode", "error", "detail"),
    [
        ("server_fault", TransientAdapterError, ("fault_code", "Server")),
        ("client_fault", PermanentAdapterError, ("fault_code", "Client")),
        ("http_500", TransientAdapterError, ("status_code", 500)),
        ("http_429", TransientAdapterError, ("status_code", 429)),
    ],
)
def test_injected_fault_classes(
    mode: str,
    error: type[AdapterError],
    detail: tuple[str, object],
    settings_for: Settings,
    inject: Inject,
    sandbox: SandboxServer,
    control: requests.Session,
) -> None:
    inject(operation="QueryPerson", mode=mode, count=1)
    with pytest.raises(error) as caught:
        call("citizen_info.query_person", QUERY, settings=settings_for("citizen_info"), message_id="f-1")
    assert type(caught.value) is error
    key, value = detail
    assert caught.value.details[key] == value
    assert caught.value.details["message_id"] == "f-1"
    assert sandbox.state.entries() == []
    # count=1: the next call goes through
    call("citizen_info.query_person", QUERY, settings=settings_for("citizen_info"), message_id="f-1")


def test_rules_without_count_last_until_cleared(
    settings_for: Settings, inject: Inject, sandbox: SandboxServer, control: requests.Session
) -> None:
    inject(operation="*", mode="http_500", count=None)
    for n in range(3):
        with pytest.raises(TransientAdapterError):
            call("sms.query_delivery", {"sms_id": "x"}, settings=settings_for("sms"), message_id=f"f-2-{n}")
    assert control.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()[0]["count"] is None
    assert control.delete(f"{sandbox.url}/_sandbox/faults", timeout=5).status_code == 200
    with pytest.raises(PermanentAdapterError, match="unknown sms id"):
        call("sms.query_delivery", {"sms_id": "x"}, settings=settings_for("sms"), message_id="f-2-x")


def test_rules_apply_to_their_operation_only(
    settings_for: Settings, inject: Inject, sandbox: SandboxServer, control: requests.Session
) -> None:
    inject(operation="VerifyIdentity", mode="client_fault", count=1)
    call("citizen_info.query_person", QUERY, settings=settings_for("citizen_info"), message_id="f-3")
    assert len(control.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()) == 1


def test_delay_longer_than_the_operation_timeout_is_transient(
    settings_for: Settings, inject: Inject, sandbox: SandboxServer, control: requests.Session
) -> None:
    inject(operation="QueryPerson", mode="delay", count=1, seconds=1.0)
    with pytest.raises(TransientAdapterError, match="timed out") as caught:
        call(
            "citizen_info.query_person",
            QUERY,
            settings=settings_for("citizen_info", operation_timeout=0.3),
            message_id="f-4",
        )
    assert caught.value.details["operation"] == "citizen_info.query_person"


def test_nobody_listening_is_transient(new_id: Callable[[], str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = AdapterSettings.for_sandbox("citizen_info", f"http://127.0.0.1:{port}", connect_timeout=0.5)
    with pytest.raises(TransientAdapterError, match="connection failed"):
        call("citizen_info.query_person", QUERY, settings=settings, message_id=new_id())


def test_http_404_is_permanent(sandbox: SandboxServer, new_id: Callable[[], str]) -> None:
    settings = AdapterSettings("citizen_info", f"{sandbox.url}/nowhere", "citizen_info.wsdl")
    with pytest.raises(PermanentAdapterError) as caught:
        call("citizen_info.query_person", QUERY, settings=settings, message_id=new_id())
    assert caught.value.details["status_code"] == 404


def test_oversized_reply_is_refused(sandbox: SandboxServer) -> None:
    transport = GuardedTransport(max_reply_bytes=100)
    with pytest.raises(ReplyTooLarge) as caught:
        transport.post(f"{sandbox.url}/citizen_info", b"<not-soap/>", {"Content-Type": "text/xml"})
    error = translate(caught.value, {"operation": "x", "message_id": "m"})
    assert isinstance(error, PermanentAdapterError)


@pytest.mark.parametrize("url", ["/etc/passwd", "file:///etc/hostname", "http://example.org/x.xsd", "../x.wsdl"])
def test_only_contract_files_are_loaded(url: str) -> None:
    with pytest.raises(LoadRefused):
        GuardedTransport().load(url)


def test_transport_ignores_the_environment() -> None:
    assert GuardedTransport().session.trust_env is False


@pytest.mark.parametrize(
    ("code", "message", "detail", "error"),
    [
        ("soap-env:Server", "internal error", None, TransientAdapterError),
        ("soap:Server.Timeout", "backend slow", None, TransientAdapterError),
        ("soap:Client", "refused", "<d>service busy</d>", TransientAdapterError),
        ("soap:Client", "temporarily unavailable", None, TransientAdapterError),
        ("soap:Client", "bad id number", "<d>invalid</d>", PermanentAdapterError),
    ],
)
def test_fault_classification(code: str, message: str, detail: str | None, error: type[AdapterError]) -> None:
    element = etree.fromstring(detail) if detail else None
    translated = translate(Fault(message, code=code, detail=element), {"operation": "x", "message_id": "m"})
    assert type(translated) is error
    assert translated.details["fault_code"] == code.rpartition(":")[2]
