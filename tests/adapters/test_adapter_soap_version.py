"""A SOAP 1.2 envelope gets a SOAP 1.1 VersionMismatch fault from the sandbox (SOAP 1.1 §4.4.1), in
plain and in secure mode, and nothing is acted on."""

from __future__ import annotations

import requests
from lxml import etree

from adapters.sandbox.server import SandboxServer
from adapters.soapserver import SOAP_ENV, safe_parser
from certs.xmlsig import SOAP12_NS, verify_envelope
from tests.adapters.conftest import Pki
from tests.adapters.test_adapter_signed import acted_on_nothing, post, signed, sms_envelope


def _version_fault(response: requests.Response) -> str:
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(response.content, parser=safe_parser())
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"  # answered in SOAP 1.1, the version this node speaks
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None
    assert fault.findtext("faultcode") == "soap:VersionMismatch"
    return fault.findtext("faultstring") or ""


def _as_soap_12(data: bytes) -> bytes:
    return data.replace(SOAP_ENV.encode(), SOAP12_NS.encode())


def test_plain_sandbox_answers_soap_12_with_version_mismatch(sandbox: SandboxServer) -> None:
    data = _as_soap_12(etree.tostring(sms_envelope("v12-plain")))
    text = _version_fault(post(sandbox, data))
    assert text.startswith("request refused (version-mismatch): a SOAP 1.2 envelope")
    assert acted_on_nothing(sandbox)


def test_secure_sandbox_answers_soap_12_with_version_mismatch(pki: Pki, secure_sandbox: SandboxServer) -> None:
    data = _as_soap_12(signed(sms_envelope("v12-secure"), pki.huiju))
    response = post(secure_sandbox, data)
    text = _version_fault(response)
    assert "SOAP 1.2" in text and SOAP_ENV in text
    assert acted_on_nothing(secure_sandbox)
    # like every refusal of the secure sandbox, signed by it and naming the message it refuses
    assert verify_envelope(response.content, pki.trust).signer == pki.sandbox.certificate


def test_an_envelope_of_an_unknown_namespace_is_a_version_mismatch_too(sandbox: SandboxServer) -> None:
    data = etree.tostring(sms_envelope("v-other")).replace(SOAP_ENV.encode(), b"urn:not-soap")
    assert "urn:not-soap" in _version_fault(post(sandbox, data))
