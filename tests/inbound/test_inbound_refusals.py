"""The inbound endpoint refuses, with a signed SOAP Fault that says why, and stores nothing but the refusal.

Each case POSTs bytes to ``/exchange/soap`` while a case waits for the extranet's decision, and checks:
HTTP 500, a Fault signed by Huiju (verified with the trust store) whose faultstring names the check
that failed, its requestHash when the request has a Body, no InboundMessage row, the case still
waiting with the same lock_version, nothing else moved, and exactly one new message-log entry of
kind ``refusal`` with the chain still intact.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from adapters.contracts import EXCHANGE_NS
from adapters.soapserver import SOAP_ENV
from certs.store import init_dev_pki, load_signing_identity, revoke
from certs.xmlsig import SOAP12_NS, WSU_ID
from exchange.inbound import MAX_REQUEST_BYTES
from tests.certs.test_certs_hostile import BILLION_LAUGHS, EXTERNAL_DTD, XXE
from tests.inbound.inbound_support import (
    Inbound,
    assert_refused,
    callback_tree,
    decision_values,
    identity_for,
    new_message_id,
    signed,
)

Build = Callable[[Inbound, Path], bytes]


# -- how each hostile or wrong call is made ------------------------------------------------------


def _unsigned(inbound: Inbound, _tmp: Path) -> bytes:
    tree = callback_tree("NotifyDecision", decision_values(inbound.case_number, inbound.receipt_number),
                         client="egov_approval", message_id=new_message_id(), case_number=inbound.case_number)  # fmt: skip
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8")


def _other_ca(inbound: Inbound, tmp: Path) -> bytes:
    other = tmp / "other-pki"
    init_dev_pki(other)
    return inbound.decision(identity=load_signing_identity(other, "sandbox"))


def _tls_certificate(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(identity=identity_for(inbound.folder, "sandbox", "tls-client"))


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, (old, data.count(old))
    return data.replace(old, new)


def _body_altered(inbound: Inbound, _tmp: Path) -> bytes:
    return _replace_once(inbound.decision(), b">approved<", b">denied<")


def _header_altered(inbound: Inbound, _tmp: Path) -> bytes:
    return _replace_once(inbound.decision(), b">system<", b">egov-admin<")


def _wrapped(inbound: Inbound, *, forged_id: str | None) -> bytes:
    """The signed Body moved into a wrapper in the Header, a forged Body in its place."""
    signed_request = inbound.decision(decision="denied", reason="signed")
    root = etree.fromstring(signed_request)
    body = root.find(f"{{{SOAP_ENV}}}Body")
    header = root.find(f"{{{SOAP_ENV}}}Header")
    assert body is not None and header is not None
    forged = copy.deepcopy(body)
    for node in forged.iter("{urn:huiju:inbound:1}decision"):
        node.text = "approved"
    if forged_id is None:
        del forged.attrib[WSU_ID]
    elif forged_id != "same":  # the copy carries the signed Body's wsu:Id already
        forged.set(WSU_ID, forged_id)
    root.remove(body)
    wrapper = etree.SubElement(header, "{urn:evil}Wrapper")
    wrapper.append(body)
    root.append(forged)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _wrapped_same_id(inbound: Inbound, _tmp: Path) -> bytes:
    return _wrapped(inbound, forged_id="same")


def _wrapped_no_id(inbound: Inbound, _tmp: Path) -> bytes:
    return _wrapped(inbound, forged_id=None)


def _stale(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(timestamp=datetime.now(UTC) - timedelta(minutes=10))


def _security_timestamp_stale(inbound: Inbound, _tmp: Path) -> bytes:
    """The header's timestamp is fresh, the signed wsu:Timestamp was made 10 minutes ago."""
    return inbound.decision(signed_at=datetime.now(UTC) - timedelta(minutes=10))


def _security_timestamp_expired(inbound: Inbound, _tmp: Path) -> bytes:
    """Created 4 minutes ago (within the skew) but good for 10 seconds only: expired long since."""
    return inbound.decision(signed_at=datetime.now(UTC) - timedelta(minutes=4), ttl_seconds=10)


def _soap_12(inbound: Inbound, _tmp: Path) -> bytes:
    """A partner's stack set to SOAP 1.2: the same call in the SOAP 1.2 envelope namespace."""
    return inbound.decision().replace(SOAP_ENV.encode(), SOAP12_NS.encode())


def _message_id_outside_the_pattern(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(message_id="id with spaces")


def _header_without_user(inbound: Inbound, _tmp: Path) -> bytes:
    """userId is required by exchange_header.xsd: the receivers validate against it."""
    tree = callback_tree("NotifyDecision", decision_values(inbound.case_number, inbound.receipt_number),
                         client="egov_approval", message_id=new_message_id(), case_number=inbound.case_number)  # fmt: skip
    user = tree.find(f"{{{SOAP_ENV}}}Header/{{{EXCHANGE_NS}}}ExchangeHeader/{{{EXCHANGE_NS}}}userId")
    assert user is not None
    user.getparent().remove(user)
    return signed(tree, inbound.sandbox)


def _future(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(timestamp=datetime.now(UTC) + timedelta(minutes=10))


def _naive_timestamp(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(timestamp=datetime.now(UTC).replace(tzinfo=None))


def _oversize(inbound: Inbound, _tmp: Path) -> bytes:
    data = inbound.decision(reason="x" * (MAX_REQUEST_BYTES + 1024))
    assert len(data) > MAX_REQUEST_BYTES
    return data


def _sms_calls_decision(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(client="sms")


def _no_case_waits(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(caseNumber="HJ20990101-0001", header_case="HJ20990101-0001")


def _wrong_correlation(inbound: Inbound, _tmp: Path) -> bytes:
    # the header names the waiting case, the decision another case number
    return inbound.decision(caseNumber="HJ20990101-0002")


def _unknown_operation(inbound: Inbound, _tmp: Path) -> bytes:
    tree = callback_tree("NotifyWhatever", {"caseNumber": inbound.case_number}, client="egov_approval",
                         message_id=new_message_id(), case_number=inbound.case_number)  # fmt: skip
    return signed(tree, inbound.sandbox)


def _unknown_decision(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(decision="maybe")


def _missing_receipt(inbound: Inbound, _tmp: Path) -> bytes:
    return inbound.decision(receiptNumber=None)


def _two_payloads(inbound: Inbound, _tmp: Path) -> bytes:
    tree = callback_tree("NotifyDecision", decision_values(inbound.case_number, inbound.receipt_number),
                         client="egov_approval", message_id=new_message_id(), case_number=inbound.case_number)  # fmt: skip
    body = tree.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None
    body.append(copy.deepcopy(body[0]))
    return signed(tree, inbound.sandbox)


CASES: list[tuple[str, Build, str]] = [
    ("no-signature", _unsigned, "signature-invalid"),
    ("other-ca", _other_ca, "certificate-untrusted"),
    ("tls-certificate", _tls_certificate, "certificate-wrong-role"),
    ("body-altered", _body_altered, "signature-invalid"),
    ("header-altered", _header_altered, "signature-invalid"),
    ("wrapping-same-id", _wrapped_same_id, "signature-invalid"),
    ("wrapping-no-id", _wrapped_no_id, "signature-invalid"),
    ("timestamp-10-min-old", _stale, "timestamp-stale"),
    ("timestamp-10-min-ahead", _future, "timestamp-stale"),
    ("timestamp-without-offset", _naive_timestamp, "timestamp-invalid"),
    ("wsu-timestamp-10-min-old", _security_timestamp_stale, "timestamp-stale"),
    ("wsu-timestamp-expired", _security_timestamp_expired, "timestamp-stale"),
    ("soap-1.2", _soap_12, "version-mismatch"),
    ("message-id-outside-pattern", _message_id_outside_the_pattern, "header-invalid"),
    ("header-without-user-id", _header_without_user, "header-invalid"),
    ("billion-laughs", lambda _i, _t: BILLION_LAUGHS, "xml-refused"),
    ("xxe", lambda _i, _t: XXE, "xml-refused"),
    ("external-dtd", lambda _i, _t: EXTERNAL_DTD, "xml-refused"),
    ("over-512-kb", _oversize, "message-too-large"),
    ("not-xml", lambda _i, _t: b"not xml at all", "xml-refused"),
    ("empty", lambda _i, _t: b"", "xml-refused"),
    ("not-soap", lambda _i, _t: b"<Envelope><Body/></Envelope>", "xml-refused"),
    ("sms-calls-notify-decision", _sms_calls_decision, "client-not-allowed"),
    ("no-case-waits", _no_case_waits, "not-found"),
    ("wrong-correlation", _wrong_correlation, "invalid-input"),  # the signed header names another case
    ("unknown-operation", _unknown_operation, "operation-unknown"),
    ("unknown-decision", _unknown_decision, "invalid-input"),
    ("missing-receipt-number", _missing_receipt, "invalid-input"),
    ("two-payloads", _two_payloads, "body-invalid"),
]


@pytest.mark.parametrize(("build", "code"), [pytest.param(b, c, id=name) for name, b, c in CASES])
def test_refused(inbound: Inbound, tmp_path: Path, build: Build, code: str) -> None:
    data = build(inbound, tmp_path)
    answer = assert_refused(inbound, data, code)
    if answer.verified is not None:  # a refusal of a verified call names the call it answers
        assert answer.header("messageId")


def test_soap_12_gets_a_soap_11_version_mismatch_fault(inbound: Inbound) -> None:
    """SOAP 1.1 §4.4.1: the faultcode is VersionMismatch, in a SOAP 1.1 envelope, HTTP 500."""
    answer = assert_refused(inbound, _soap_12(inbound, Path()), "version-mismatch")
    root = etree.fromstring(answer.data)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    assert root.findtext(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault/faultcode") == "soap:VersionMismatch"
    assert "SOAP 1.2" in answer.faultstring


def test_hostile_xml_leaks_nothing(inbound: Inbound) -> None:
    answer = assert_refused(inbound, XXE, "xml-refused")
    assert b"root:" not in answer.data
    assert "DOCTYPE" in answer.faultstring


def test_refusal_logs_what_the_call_claimed(inbound: Inbound) -> None:
    """A refused signed call is logged with its claimed message id and its envelope."""
    message_id = new_message_id()
    data = inbound.decision(message_id=message_id, client="sms")
    last = inbound.last_log_id()
    answer = assert_refused(inbound, data, "client-not-allowed")
    assert answer.header("messageId") == message_id
    (entry,) = inbound.log_after(last)
    assert entry.message_id == message_id
    assert entry.case_number == inbound.case_number
    assert entry.envelope is not None and message_id in entry.envelope


def test_oversize_is_logged_capped(inbound: Inbound) -> None:
    last = inbound.last_log_id()
    assert_refused(inbound, _oversize(inbound, Path()), "message-too-large")
    (entry,) = inbound.log_after(last)
    assert entry.envelope is not None and len(entry.envelope) <= 64 * 1024


def test_revoked_signing_certificate_is_refused_without_restart(inbound: Inbound) -> None:
    """The sandbox's signing certificate is revoked while the app runs: the next call is refused.

    A first call, signed by the same certificate, proves the trust store was loaded before the
    revocation (it passes the signature checks and is refused only because no case waits for it).
    """
    assert_refused(inbound, _no_case_waits(inbound, Path()), "not-found")
    revoke(inbound.folder, inbound.sandbox.info.serial, "keyCompromise")
    answer = assert_refused(inbound, inbound.decision(), "certificate-revoked")
    assert "keyCompromise" in answer.faultstring or "key_compromise" in answer.faultstring


def test_replayed_message_id_is_refused(inbound: Inbound) -> None:
    message_id = new_message_id()
    data = inbound.decision(message_id=message_id)
    first = inbound.call(data)
    assert first.status == 200 and first.fault is None
    assert not inbound.waits()
    # the same bytes again, and the same id with another body
    answer = assert_refused(inbound, data, "message-id-replayed", still_waits=False)
    assert message_id in answer.faultstring
    other = inbound.decision(message_id=message_id, decision="denied", reason="again")
    assert_refused(inbound, other, "message-id-replayed", still_waits=False)


def test_a_contradicting_decision_after_the_case_moved_on_is_refused(inbound: Inbound) -> None:
    """A second decision (new id) that contradicts the one the case took is refused, not applied.

    (The same decision again is accepted as a duplicate: tests/inbound/test_inbound_held.py.)
    """
    assert inbound.call(inbound.decision()).status == 200
    answer = assert_refused(inbound, inbound.decision(decision="denied", reason="late"), "conflict", still_waits=False)
    assert "approved" in answer.faultstring


def test_a_trusted_signer_of_another_member_cannot_speak_for_the_extranet(inbound: Inbound) -> None:
    """Huiju's own signing key is trusted, but it is not the extranet's: its decision is refused."""
    huiju = identity_for(inbound.folder, "huiju", "signing")
    answer = assert_refused(inbound, inbound.decision(identity=huiju), "signer-not-client")
    assert "must be signed by member sandbox, not huiju" in answer.faultstring


def test_an_overlong_message_id_is_refused_before_anything_is_stored(inbound: Inbound) -> None:
    assert_refused(inbound, inbound.decision(message_id="x" * 65), "header-invalid")


def test_an_unverified_call_is_logged_as_a_prefix_and_a_digest(inbound: Inbound) -> None:
    last = inbound.last_log_id()
    data = b"<not-soap>" + b"A" * 20_000 + b"</not-soap>"
    assert_refused(inbound, data, "xml-refused")
    (entry,) = inbound.log_after(last)
    assert entry.envelope is not None and len(entry.envelope) <= 4 * 1024
    assert entry.verification is not None and "sha256" in entry.verification


def test_a_chunked_body_is_read_no_further_than_the_cap(inbound: Inbound) -> None:
    """No Content-Length (chunked): the endpoint still reads only up to its cap, over a real server."""
    import threading

    import requests
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, inbound.client.application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def chunks() -> Iterator[bytes]:
        for _ in range(40):  # 2.5 MB, five times the cap
            yield b"<" + b"x" * (64 * 1024)

    try:
        response = requests.post(f"http://127.0.0.1:{server.server_port}/exchange/soap", data=chunks(),
                                 headers={"Content-Type": "text/xml"}, timeout=30)  # fmt: skip
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert response.status_code == 500
    assert b"message-too-large" in response.content


def test_a_decision_that_loses_a_race_is_refused_as_busy_and_taken_when_sent_again(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unique constraint broken by a concurrent step (not the message id's) keeps nothing of the
    call and says so with a Server fault: the sender sends it again, under the same id, and it counts.
    (Read as a replay, the sender would stop and the decision would be lost.)"""
    from sqlalchemy.exc import IntegrityError

    import huiju.app.callbacks as callbacks

    applied = callbacks.apply_decision
    raced: list[str] = []

    def race_once(*args: Any, **kwargs: Any) -> None:
        if not raced:
            raced.append("raced")
            raise IntegrityError("INSERT INTO waiting_message ...", {}, Exception("duplicate key value"))
        applied(*args, **kwargs)

    monkeypatch.setattr(callbacks, "apply_decision", race_once)
    message_id = new_message_id()
    data = inbound.decision(message_id=message_id)
    answer = assert_refused(inbound, data, "server-busy")
    assert answer.fault is not None and (answer.fault.findtext("faultcode") or "").endswith("Server")
    again = inbound.call(data)
    assert again.status == 200 and again.fault is None
    assert not inbound.waits()
