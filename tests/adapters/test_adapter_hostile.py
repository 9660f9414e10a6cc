"""Hostile or broken input to the sandbox gets a SOAP Client fault, never a crash or an expansion."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from lxml import etree

from adapters.contracts import CONTRACTS
from adapters.sandbox.server import SandboxServer
from adapters.soapserver import SOAP_ENV, safe_parser

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;</soap:Body></soap:Envelope>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<c:QueryPerson xmlns:c="urn:huiju:gov:citizen-info:1"><c:idNumber>&xxe;</c:idNumber></c:QueryPerson>
</soap:Body></soap:Envelope>"""
NO_HEADER = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<c:QueryPerson xmlns:c="urn:huiju:gov:citizen-info:1"><c:idNumber>110105193801012340</c:idNumber></c:QueryPerson>
</soap:Body></soap:Envelope>"""
WRONG_OPERATION = NO_HEADER.replace(b"citizen-info", b"sms")
BAD_HEADER = NO_HEADER.replace(
    b"<soap:Body>",
    b"""<soap:Header><ex:ExchangeHeader xmlns:ex="urn:huiju:exchange:1"><ex:client>huiju</ex:client>
<ex:service>citizen_info.QueryPerson</ex:service><ex:messageId>m-1</ex:messageId><ex:userId>u</ex:userId>
<ex:timestamp>2026-01-01T08:00:00</ex:timestamp><ex:protocolVersion>1.0</ex:protocolVersion>
</ex:ExchangeHeader></soap:Header><soap:Body>""",
)


def _fault(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 500
    root = etree.fromstring(response.content, parser=safe_parser())
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (XXE, "DOCTYPE"),
        (b"this is not XML", "not well-formed"),
        (b"", "empty request"),
        (b"<a><b></a>", "not well-formed"),
        (b"<root/>", "not a SOAP 1.1 envelope"),
        (NO_HEADER, "messageId is required"),
        (WRONG_OPERATION, "has no operation"),
        (BAD_HEADER, "request refused (header-invalid): the exchange header does not conform"),  # no UTC offset
        (b"<x>" + b"a" * (2 * 1024 * 1024 + 10) + b"</x>", "too large"),
    ],
    ids=[
        "billion-laughs",
        "xxe",
        "not-xml",
        "empty",
        "broken",
        "not-soap",
        "no-header",
        "wrong-op",
        "timestamp-without-offset",
        "oversize",
    ],  # fmt: skip
)
def test_hostile_requests_get_a_client_fault(
    body: bytes, reason: str, sandbox: SandboxServer, control: requests.Session
) -> None:
    response = control.post(f"{sandbox.url}/citizen_info", data=body, headers={"Content-Type": "text/xml"}, timeout=10)
    code, string = _fault(response)
    assert code == "soap:Client"
    assert reason in string
    assert b"root:" not in response.content
    assert sandbox.state.entries() == []


def test_wsdl_is_served_with_the_serving_address(sandbox: SandboxServer, control: requests.Session) -> None:
    for system in CONTRACTS:
        response = control.get(f"{sandbox.url}/{system}?wsdl", timeout=5)
        assert response.status_code == 200
        root = etree.fromstring(response.content, parser=safe_parser())
        (address,) = root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")
        assert address.get("location") == f"{sandbox.url}/{system}"
    xsd = control.get(f"{sandbox.url}/exchange_header.xsd", timeout=5)
    assert b"ExchangeHeader" in xsd.content


def test_control_api(sandbox: SandboxServer, control: requests.Session) -> None:
    health = control.get(f"{sandbox.url}/_sandbox/health", timeout=5).json()
    assert health["status"] == "ok" and health["people"] >= 240
    bad: list[Any] = [
        {"operation": "Nope", "mode": "delay"},
        {"operation": "*", "mode": "explode"},
        {"operation": "*", "mode": "delay", "count": 0},
        {"operation": "*", "mode": "delay", "seconds": -1},
        ["not", "an", "object"],
    ]
    for rule in bad:
        assert control.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=5).status_code == 400
    assert control.post(f"{sandbox.url}/_sandbox/faults", data=b"{", timeout=5).status_code == 400
    assert control.post(f"{sandbox.url}/_sandbox/reset", timeout=5).json() == {"reset": True}
    assert control.get(f"{sandbox.url}/_sandbox/nothing", timeout=5).status_code == 404
    assert control.get(f"{sandbox.url}/unknown_system?wsdl", timeout=5).status_code == 404
