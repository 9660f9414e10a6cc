"""Signed exchange, X-Road style: adapters sign and verify, the secure sandbox refuses what does not verify."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from lxml import etree

from adapters.client import call
from adapters.config import AdapterSettings
from adapters.contracts import CONTRACTS, EXCHANGE_NS, PROTOCOL_VERSION
from adapters.sandbox.server import SandboxServer
from adapters.signing import Exchanged
from adapters.soapserver import SOAP_ENV, safe_parser
from certs.store import SigningIdentity
from certs.xmlsig import WSU_ID, request_hash, sign_envelope, verify_envelope
from huiju.errors import PermanentAdapterError, TransientAdapterError
from tests.adapters.conformance import problems
from tests.adapters.conftest import HostileServer, Pki

Settings = Callable[..., AdapterSettings]
MOTHER = "110105193801012340"
SMS = {"phone": "13800138000", "template": "CASE_APPROVED", "params": {"case": "HJ-1"}}
SMS_NS = CONTRACTS["sms"].namespace


def sms_envelope(message_id: str, *, phone: str = "13800138000", timestamp: datetime | None = None) -> etree._Element:
    """A SendSms request as an adapter sends it (before signing)."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    header = etree.SubElement(env, f"{{{SOAP_ENV}}}Header")
    exchange = etree.SubElement(header, f"{{{EXCHANGE_NS}}}ExchangeHeader", nsmap={"ex": EXCHANGE_NS})
    moment = timestamp or datetime.now(UTC)
    for name, value in (
        ("client", "huiju"),
        ("service", "sms.SendSms"),
        ("messageId", message_id),
        ("userId", "officer-7"),
        ("caseNumber", "HJ-1"),
        ("timestamp", moment.isoformat()),
        ("protocolVersion", PROTOCOL_VERSION),
    ):
        etree.SubElement(exchange, f"{{{EXCHANGE_NS}}}{name}").text = value
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    send = etree.SubElement(body, f"{{{SMS_NS}}}SendSms", nsmap={"tns": SMS_NS})
    for name, value in (("phone", phone), ("template", "CASE_APPROVED")):
        etree.SubElement(send, f"{{{SMS_NS}}}{name}").text = value
    param = etree.SubElement(etree.SubElement(send, f"{{{SMS_NS}}}params"), f"{{{SMS_NS}}}param")
    etree.SubElement(param, f"{{{SMS_NS}}}name").text = "case"
    etree.SubElement(param, f"{{{SMS_NS}}}value").text = "HJ-1"
    etree.SubElement(send, f"{{{SMS_NS}}}messageId").text = message_id
    return env


def signed(envelope: etree._Element, identity: SigningIdentity) -> bytes:
    return etree.tostring(sign_envelope(envelope, identity), xml_declaration=True, encoding="utf-8")


def post(server: SandboxServer, data: bytes, system: str = "sms") -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.post(f"{server.url}/{system}", data=data, headers={"Content-Type": "text/xml"}, timeout=10)


def fault_of(response: requests.Response) -> tuple[str, str]:
    root = etree.fromstring(response.content, parser=safe_parser())
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, response.content
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def acted_on_nothing(server: SandboxServer) -> bool:
    stored = server.state.stored()
    return server.state.entries() == [] and stored["sms"] == [] and stored["cases"] == [] and not stored["records"]


# --- round trips -----------------------------------------------------------------------------------


def test_signed_round_trip_for_every_system(
    pki: Pki, secure_settings_for: Settings, secure_sandbox: SandboxServer, new_id: Callable[[], str]
) -> None:
    record: list[Exchanged] = []
    keys: dict[str, Any] = {"signer": pki.huiju, "trust": pki.trust, "exchange_record": record}
    person = call(
        "citizen_info.query_person",
        {"id_number": MOTHER},
        settings=secure_settings_for("citizen_info"),
        message_id=new_id(),
        user_id="officer-7",
        case_number="HJ-1",
        **keys,
    )
    assert person["name"] == "张秀英"
    sent = call("sms.send_sms", SMS, settings=secure_settings_for("sms"), message_id=new_id(), **keys)
    assert sent["accepted"] is True
    receipt = call(
        "egov.submit_case",
        {
            "case_number": "HJ-2025-000042",
            "item_code": "ELD-SUBSIDY",
            "applicant_id_number": MOTHER,
            "applicant_name": "张秀英",
            "decision": "approved",
            "decided_by": "street-reviewer-1",
            "decided_at": datetime(2025, 3, 1, 2, 0, tzinfo=UTC),
            "summary": "符合高龄津贴条件",
        },
        settings=secure_settings_for("egov_approval"),
        message_id=new_id(),
        **keys,
    )
    assert receipt["receipt_number"].startswith("RC-")
    call(
        "data_exchange.publish_record",
        {"dataset": "subsidy", "record": {"case": "HJ-1", "amount": "100.00"}},
        settings=secure_settings_for("data_exchange"),
        message_id=new_id(),
        **keys,
    )
    found = call(
        "data_exchange.query_records",
        {"dataset": "subsidy", "filter": {"case": "HJ-1"}},
        settings=secure_settings_for("data_exchange"),
        message_id=new_id(),
        **keys,
    )
    assert [r["fields"]["amount"] for r in found["records"]] == ["100.00"]

    assert len(record) == 5
    sandbox_subject = pki.sandbox.certificate.subject.rfc4514_string()
    for entry in record:
        assert entry.signed and entry.reply_signature == "verified" and entry.reply_error is None
        assert entry.signer_subject == sandbox_subject
        assert entry.request_hash == request_hash(entry.request)
        assert entry.reply is not None and entry.http_status == 200
        # The request verifies as Huiju's; the reply as the sandbox's, bound to this very request.
        assert verify_envelope(entry.request, pki.trust).signer == pki.huiju.certificate
        reply = verify_envelope(entry.reply, pki.trust)
        assert reply.header.findtext(f"{{{EXCHANGE_NS}}}requestHash") == entry.request_hash
    assert len(secure_sandbox.state.entries()) == 5
    assert secure_sandbox.state.refused() == []
    # Every message on the wire, both ways, conforms to its contract (header schema and operation schema).
    systems = ["citizen_info", "sms", "egov_approval", "data_exchange", "data_exchange"]
    for system, entry in zip(systems, record, strict=True):
        assert entry.reply is not None
        assert problems(system, entry.request) == []
        assert problems(system, entry.reply) == []
    # ... and the check finds what does not conform
    naive = etree.tostring(sms_envelope("naive-1", timestamp=datetime.now(UTC).replace(tzinfo=None)))
    assert [p for p in problems("sms", naive) if "timestamp" in p]
    assert [p for p in problems("citizen_info", etree.tostring(sms_envelope("x-1"))) if "SendSms" in p]


def test_exchanged_records_hold_the_exact_bytes_on_the_wire(
    pki: Pki, secure_sandbox: SandboxServer, hostile: HostileServer, new_id: Callable[[], str]
) -> None:
    """The hostile peer here is an honest relay to the secure sandbox, keeping the bytes that passed."""
    hostile.responder = _relay(secure_sandbox, "sms", lambda reply: reply)
    record: list[Exchanged] = []
    call(
        "sms.send_sms",
        SMS,
        settings=hostile.settings("sms"),
        message_id=new_id(),
        signer=pki.huiju,
        trust=pki.trust,
        exchange_record=record,
    )
    (entry,) = record
    assert entry.request == hostile.received[0]
    assert entry.reply == hostile.sent[0]
    assert entry.reply_signature == "verified"


def test_a_retry_gets_the_stored_signed_answer_and_acts_once(
    pki: Pki, secure_settings_for: Settings, secure_sandbox: SandboxServer
) -> None:
    record: list[Exchanged] = []
    keys: dict[str, Any] = {"signer": pki.huiju, "trust": pki.trust, "exchange_record": record}
    first = call("sms.send_sms", SMS, settings=secure_settings_for("sms"), message_id="signed-once-1", **keys)
    second = call("sms.send_sms", SMS, settings=secure_settings_for("sms"), message_id="signed-once-1", **keys)
    assert first == second
    assert len(secure_sandbox.state.stored()["sms"]) == 1
    assert secure_sandbox.state.entries(message_id="signed-once-1")[0]["received_count"] == 2
    # Each attempt is signed anew (new timestamp), but the Body and so the requestHash are the same.
    assert record[0].request != record[1].request
    assert record[0].request_hash == record[1].request_hash
    assert record[0].reply == record[1].reply


def test_signed_business_fault_is_verified_and_stays_permanent(
    pki: Pki, secure_settings_for: Settings, new_id: Callable[[], str]
) -> None:
    record: list[Exchanged] = []
    with pytest.raises(PermanentAdapterError, match="unknown person") as caught:
        call(
            "citizen_info.query_person",
            {"id_number": "110105193801012359"},
            settings=secure_settings_for("citizen_info"),
            message_id=new_id(),
            signer=pki.huiju,
            trust=pki.trust,
            exchange_record=record,
        )
    assert caught.value.details["fault_code"] == "Client"
    assert record[0].reply_signature == "verified" and record[0].http_status == 500


def test_signed_busy_fault_stays_transient_and_the_retry_acts_once(
    pki: Pki, secure_settings_for: Settings, secure_sandbox: SandboxServer, control: requests.Session
) -> None:
    response = control.post(
        f"{secure_sandbox.url}/_sandbox/faults",
        json={"operation": "SendSms", "mode": "server_fault", "count": 1},
        timeout=5,
    )
    assert response.status_code == 201
    keys: dict[str, Any] = {"signer": pki.huiju, "trust": pki.trust}
    with pytest.raises(TransientAdapterError, match="busy"):
        call("sms.send_sms", SMS, settings=secure_settings_for("sms"), message_id="signed-busy-1", **keys)
    call("sms.send_sms", SMS, settings=secure_settings_for("sms"), message_id="signed-busy-1", **keys)
    assert len(secure_sandbox.state.stored()["sms"]) == 1


def test_http_errors_stay_transient_when_replies_must_be_signed(
    pki: Pki, secure_settings_for: Settings, secure_sandbox: SandboxServer, control: requests.Session
) -> None:
    response = control.post(
        f"{secure_sandbox.url}/_sandbox/faults",
        json={"operation": "SendSms", "mode": "http_429", "count": 1},
        timeout=5,
    )
    assert response.status_code == 201
    with pytest.raises(TransientAdapterError, match="HTTP 429"):
        call(
            "sms.send_sms",
            SMS,
            settings=secure_settings_for("sms"),
            message_id="signed-429",
            signer=pki.huiju,
            trust=pki.trust,
        )
    assert acted_on_nothing(secure_sandbox)


# --- the sandbox refuses -------------------------------------------------------------------------


def _unsigned(pki: Pki, mid: str) -> bytes:
    return etree.tostring(sms_envelope(mid), xml_declaration=True, encoding="utf-8")


def _body_altered(pki: Pki, mid: str) -> bytes:
    return signed(sms_envelope(mid), pki.huiju).replace(b"13800138000", b"13900139000")


def _header_altered(pki: Pki, mid: str) -> bytes:
    return signed(sms_envelope(mid), pki.huiju).replace(b"officer-7", b"officer-1")


def _wrapped(pki: Pki, mid: str) -> bytes:
    """Signature wrapping: the signed Body moved into the header, a forged Body in its place."""
    document = sign_envelope(sms_envelope(mid), pki.huiju)
    body = document.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None
    forged = etree.fromstring(etree.tostring(sms_envelope(mid, phone="13900139000")))[1]
    forged.set(WSU_ID, body.get(WSU_ID))
    document.replace(body, forged)
    document[0].append(body)
    return etree.tostring(document)


REFUSED: dict[str, tuple[Callable[[Pki, str], bytes], str, str]] = {
    "unsigned": (_unsigned, "signature-invalid", "the message is not signed"),
    "body-altered": (_body_altered, "signature-invalid", "the digest of reference 3 (#id-"),
    "header-altered": (_header_altered, "signature-invalid", "the digest of reference 2 (#id-"),
    "wrapped": (_wrapped, "signature-invalid", "occurs 2 times: a signed element was moved or copied"),
    "untrusted": (
        lambda p, m: signed(sms_envelope(m), p.foreign),
        "certificate-untrusted",
        "not issued by a trusted CA",
    ),
    "revoked": (lambda p, m: signed(sms_envelope(m), p.revoked), "certificate-revoked", "was revoked on"),
    "expired": (lambda p, m: signed(sms_envelope(m), p.expired), "certificate-expired", "expired on"),
    "tls-certificate": (lambda p, m: signed(sms_envelope(m), p.tls), "certificate-wrong-role", "not a signing"),
    "stale": (
        lambda p, m: signed(sms_envelope(m, timestamp=datetime.now(UTC) - timedelta(minutes=10)), p.huiju),
        "timestamp-stale",
        "more than the 300 s allowed",
    ),
    "from-the-future": (
        lambda p, m: signed(sms_envelope(m, timestamp=datetime.now(UTC) + timedelta(minutes=10)), p.huiju),
        "timestamp-stale",
        "more than the 300 s allowed",
    ),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_the_secure_sandbox_refuses_and_acts_on_nothing(
    kind: str, pki: Pki, secure_sandbox: SandboxServer, control: requests.Session
) -> None:
    build, code, reason = REFUSED[kind]
    message_id = f"refused-{kind}"
    response = post(secure_sandbox, build(pki, message_id))
    assert response.status_code == 500
    fault_code, fault_string = fault_of(response)
    assert fault_code == "soap:Client"
    assert fault_string.startswith(f"request refused ({code}): ")
    assert reason in fault_string
    assert acted_on_nothing(secure_sandbox)
    refusals = control.get(f"{secure_sandbox.url}/_sandbox/refusals", timeout=5).json()
    assert [(r["code"], r["message_id"]) for r in refusals] == [(code, message_id)]
    assert reason in refusals[0]["reason"]
    # The refusal itself is signed by the sandbox and names the message it refuses.
    verified = verify_envelope(response.content, pki.trust)
    assert verified.signer == pki.sandbox.certificate
    assert verified.header.findtext(f"{{{EXCHANGE_NS}}}messageId") == message_id


def test_each_refusal_says_why_in_its_own_words(pki: Pki, secure_sandbox: SandboxServer) -> None:
    strings = {
        kind: fault_of(post(secure_sandbox, build(pki, f"why-{kind}")))[1] for kind, (build, _c, _r) in REFUSED.items()
    }
    # The timestamps differ from run to run; everything else must be told apart by its text.
    assert len(set(strings.values())) == len(strings)


def test_a_message_id_reused_with_another_body_is_refused_the_same_body_is_idempotent(
    pki: Pki, secure_sandbox: SandboxServer
) -> None:
    first = post(secure_sandbox, signed(sms_envelope("reuse-1"), pki.huiju))
    assert first.status_code == 200
    # Huiju's retry: the same Body, signed again with a new timestamp -> the stored answer.
    retry = signed(sms_envelope("reuse-1"), pki.huiju)
    again = post(secure_sandbox, retry)
    assert again.status_code == 200 and again.content == first.content
    # A byte-for-byte replay (within the skew) fetches the same stored answer and acts on nothing either.
    replay = post(secure_sandbox, retry)
    assert replay.content == first.content
    # The same id with another Body, validly signed: refused, nothing acted.
    other = post(secure_sandbox, signed(sms_envelope("reuse-1", phone="13900139000"), pki.huiju))
    fault_code, fault_string = fault_of(other)
    assert fault_code == "soap:Client"
    assert fault_string == "request refused (message-id-reused): message id 'reuse-1' already used for another request"
    assert len(secure_sandbox.state.stored()["sms"]) == 1
    assert secure_sandbox.state.entries(message_id="reuse-1")[0]["received_count"] == 3
    assert [r["code"] for r in secure_sandbox.state.refused()] == ["message-id-reused"]


def test_a_huiju_client_without_a_trusted_signature_is_refused(
    pki: Pki, secure_settings_for: Settings, secure_sandbox: SandboxServer, new_id: Callable[[], str]
) -> None:
    with pytest.raises(PermanentAdapterError, match=r"request refused \(signature-invalid\)"):
        call("sms.send_sms", SMS, settings=secure_settings_for("sms"), message_id=new_id(), trust=pki.trust)
    with pytest.raises(PermanentAdapterError, match=r"request refused \(certificate-untrusted\)"):
        call(
            "sms.send_sms",
            SMS,
            settings=secure_settings_for("sms"),
            message_id=new_id(),
            signer=pki.foreign,
            trust=pki.trust,
        )
    assert acted_on_nothing(secure_sandbox)
    assert len(secure_sandbox.state.refused()) == 2


def test_secure_mode_refuses_hostile_xml_before_anything(pki: Pki, secure_sandbox: SandboxServer) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&b;</soap:Body>'
        b"</soap:Envelope>"
    )
    for data, reason in ((laughs, "DOCTYPE"), (b"not xml", "not well-formed"), (b"x" * (3 * 1024 * 1024), "too large")):
        response = post(secure_sandbox, data)
        fault_code, fault_string = fault_of(response)
        assert fault_code == "soap:Client" and reason in fault_string
        assert b"aaaaaaaaaa" * 2 not in response.content
    assert acted_on_nothing(secure_sandbox)
    assert len(secure_sandbox.state.refused()) == 3


# --- the client refuses ----------------------------------------------------------------------------


def test_the_client_refuses_an_unsigned_reply(pki: Pki, settings_for: Settings, new_id: Callable[[], str]) -> None:
    """The plain sandbox answers unsigned: a client that requires signed replies refuses the answer."""
    record: list[Exchanged] = []
    with pytest.raises(PermanentAdapterError, match="reply refused: the message is not signed") as caught:
        call(
            "citizen_info.verify_identity",
            {"id_number": MOTHER, "name": "张秀英"},
            settings=settings_for("citizen_info"),
            message_id=new_id(),
            signer=pki.huiju,
            trust=pki.trust,
            exchange_record=record,
        )
    assert caught.value.details["reply_check"] == "signature-invalid"
    assert record[0].reply_signature == "refused" and record[0].signer_subject is None
    assert record[0].reply_error is not None and "not signed" in record[0].reply_error


def test_the_client_refuses_a_reply_signed_by_an_untrusted_certificate(pki: Pki, new_id: Callable[[], str]) -> None:
    with SandboxServer(trust=pki.trust, signer=pki.foreign) as impostor:
        settings = AdapterSettings.for_sandbox("sms", impostor.url, operation_timeout=5.0)
        with pytest.raises(PermanentAdapterError, match="not issued by a trusted CA") as caught:
            call("sms.send_sms", SMS, settings=settings, message_id=new_id(), signer=pki.huiju, trust=pki.trust)
    assert caught.value.details["reply_check"] == "certificate-untrusted"


def test_the_client_refuses_a_reply_signed_with_a_revoked_certificate(pki: Pki, new_id: Callable[[], str]) -> None:
    with SandboxServer(trust=pki.trust, signer=pki.revoked) as impostor:
        settings = AdapterSettings.for_sandbox("sms", impostor.url, operation_timeout=5.0)
        with pytest.raises(PermanentAdapterError, match="was revoked") as caught:
            call("sms.send_sms", SMS, settings=settings, message_id=new_id(), signer=pki.huiju, trust=pki.trust)
    assert caught.value.details["reply_check"] == "certificate-revoked"


def _relay(
    sandbox: SandboxServer, system: str, change: Callable[[bytes], bytes]
) -> Callable[[bytes], tuple[int, bytes]]:
    def respond(data: bytes) -> tuple[int, bytes]:
        response = post(sandbox, data, system)
        return response.status_code, change(response.content)

    return respond


def test_the_client_refuses_an_altered_reply(
    pki: Pki, secure_sandbox: SandboxServer, hostile: HostileServer, new_id: Callable[[], str]
) -> None:
    hostile.responder = _relay(secure_sandbox, "citizen_info", lambda reply: reply.replace(b">true<", b">false<"))
    record: list[Exchanged] = []
    with pytest.raises(PermanentAdapterError, match="the signature does not verify") as caught:
        call(
            "citizen_info.verify_identity",
            {"id_number": MOTHER, "name": "张秀英"},
            settings=hostile.settings("citizen_info"),
            message_id=new_id(),
            signer=pki.huiju,
            trust=pki.trust,
            exchange_record=record,
        )
    assert caught.value.details["reply_check"] == "signature-invalid"
    assert b">false<" in hostile.sent[0] and record[0].reply == hostile.sent[0]


def test_the_client_refuses_a_genuine_reply_replayed_against_another_request(
    pki: Pki, secure_sandbox: SandboxServer, hostile: HostileServer
) -> None:
    record: list[Exchanged] = []
    keys: dict[str, Any] = {"signer": pki.huiju, "trust": pki.trust, "exchange_record": record}
    hostile.responder = _relay(secure_sandbox, "citizen_info", lambda reply: reply)
    genuine = call(
        "citizen_info.verify_identity",
        {"id_number": MOTHER, "name": "张秀英"},
        settings=hostile.settings("citizen_info"),
        message_id="replay-1",
        **keys,
    )
    assert genuine["match"] is True
    recorded = hostile.sent[0]
    hostile.responder = lambda _data: (200, recorded)
    # Same message id, another question: the signed answer is genuine but answers another request.
    with pytest.raises(PermanentAdapterError, match="answers another request") as caught:
        call(
            "citizen_info.verify_identity",
            {"id_number": MOTHER, "name": "李四"},
            settings=hostile.settings("citizen_info"),
            message_id="replay-1",
            **keys,
        )
    assert caught.value.details["reply_check"] == "request-hash-mismatch"
    # Another message id: the echo does not match.
    with pytest.raises(PermanentAdapterError, match="answers message id 'replay-1'") as caught:
        call(
            "citizen_info.verify_identity",
            {"id_number": MOTHER, "name": "张秀英"},
            settings=hostile.settings("citizen_info"),
            message_id="replay-2",
            **keys,
        )
    assert caught.value.details["reply_check"] == "message-id-mismatch"
    assert [r.reply_signature for r in record] == ["verified", "refused", "refused"]
    assert record[1].reply == recorded and record[1].request == hostile.received[1]


def test_the_client_refuses_a_signed_reply_without_request_hash(
    pki: Pki, hostile: HostileServer, new_id: Callable[[], str]
) -> None:
    def respond(data: bytes) -> tuple[int, bytes]:
        request = etree.fromstring(data, parser=safe_parser())
        header = request.find(f"{{{SOAP_ENV}}}Header/{{{EXCHANGE_NS}}}ExchangeHeader")
        assert header is not None
        env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
        reply_header = etree.SubElement(env, f"{{{SOAP_ENV}}}Header")
        echo = etree.SubElement(reply_header, f"{{{EXCHANGE_NS}}}ExchangeHeader")
        for child in header:
            etree.SubElement(echo, child.tag).text = child.text
        answer = etree.SubElement(etree.SubElement(env, f"{{{SOAP_ENV}}}Body"), f"{{{SMS_NS}}}SendSmsResponse")
        etree.SubElement(answer, f"{{{SMS_NS}}}accepted").text = "true"
        return 200, signed(env, pki.sandbox)

    hostile.responder = respond
    with pytest.raises(PermanentAdapterError, match="carries no requestHash") as caught:
        call(
            "sms.send_sms",
            SMS,
            settings=hostile.settings("sms"),
            message_id=new_id(),
            signer=pki.huiju,
            trust=pki.trust,
        )
    assert caught.value.details["reply_check"] == "request-hash-missing"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;</soap:Body></soap:Envelope>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<s:SendSmsResponse xmlns:s="urn:huiju:gov:sms:1"><s:smsId>&xxe;</s:smsId></s:SendSmsResponse>
</soap:Body></soap:Envelope>"""


@pytest.mark.parametrize(
    ("reply", "reason", "check"),
    [
        (BILLION_LAUGHS, "DOCTYPE", "xml-refused"),
        (XXE, "DOCTYPE", "xml-refused"),
        (b"<?xml version='1.0'?><x>" + b"a" * (2 * 1024 * 1024 + 10) + b"</x>", "reply declares", None),
        (b"this is not XML", "not well-formed", "xml-refused"),
    ],
    ids=["billion-laughs", "xxe", "oversize", "not-xml"],
)
def test_the_client_refuses_hostile_xml_replies_without_expanding_them(
    reply: bytes, reason: str, check: str | None, pki: Pki, hostile: HostileServer, new_id: Callable[[], str]
) -> None:
    hostile.responder = lambda _data: (200, reply)
    record: list[Exchanged] = []
    with pytest.raises(PermanentAdapterError, match=reason) as caught:
        call(
            "sms.send_sms",
            SMS,
            settings=hostile.settings("sms"),
            message_id=new_id(),
            signer=pki.huiju,
            trust=pki.trust,
            exchange_record=record,
        )
    assert caught.value.details.get("reply_check") == check
    text = caught.value.message + repr(caught.value.details)
    assert "lollol" not in text and "root:" not in text
    assert record[0].reply_signature == "refused"


def test_an_unverified_busy_fault_stays_transient_other_unverified_faults_are_permanent(
    pki: Pki, hostile: HostileServer, new_id: Callable[[], str]
) -> None:
    def fault(code: str, text: str) -> bytes:
        return (
            f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault><faultcode>soap:{code}</faultcode>'
            f"<faultstring>{text}</faultstring></soap:Fault></soap:Body></soap:Envelope>"
        ).encode()

    keys: dict[str, Any] = {"signer": pki.huiju, "trust": pki.trust}
    hostile.responder = lambda _data: (500, fault("Server", "service busy, try again later"))
    with pytest.raises(TransientAdapterError, match="unverified SOAP fault Server") as busy:
        call("sms.send_sms", SMS, settings=hostile.settings("sms"), message_id=new_id(), **keys)
    assert busy.value.details["fault_code"] == "Server"
    hostile.responder = lambda _data: (500, fault("Client", "your case is approved, trust me"))
    with pytest.raises(PermanentAdapterError, match="unverified SOAP fault Client") as other:
        call("sms.send_sms", SMS, settings=hostile.settings("sms"), message_id=new_id(), **keys)
    assert other.value.details["reply_check"] == "signature-invalid"
    hostile.responder = lambda _data: (503, b"<html><body>maintenance</body></html>")
    with pytest.raises(TransientAdapterError, match="HTTP 503"):
        call("sms.send_sms", SMS, settings=hostile.settings("sms"), message_id=new_id(), **keys)


def test_without_signer_and_trust_nothing_changes(settings_for: Settings, new_id: Callable[[], str]) -> None:
    record: list[Exchanged] = []
    out = call("sms.send_sms", SMS, settings=settings_for("sms"), message_id=new_id(), exchange_record=record)
    assert out["accepted"] is True
    (entry,) = record
    assert not entry.signed and entry.reply_signature == "not-checked" and entry.signer_subject is None
    assert b"Signature" not in entry.request and entry.request_hash == request_hash(entry.request)


def test_reply_signed_by_another_trusted_member_is_refused(pki: Pki) -> None:
    """A trusted certificate that is not the called system's (here Huiju's own, as in a reply reflected
    from Huiju's inbound endpoint) does not make a reply authentic."""
    import uuid as _uuid

    from adapters.config import AdapterSettings as _Settings
    from adapters.sandbox.server import SandboxServer as _Server

    with _Server(trust=pki.trust, signer=pki.huiju) as impostor:
        settings = _Settings.for_sandbox("citizen_info", impostor.url)
        with pytest.raises(PermanentAdapterError) as caught:
            call("citizen_info.query_person", {"id_number": "110105193801012340"}, settings=settings,
                 message_id=str(_uuid.uuid4()), signer=pki.huiju, trust=pki.trust)  # fmt: skip
    assert caught.value.details.get("reply_check") == "signer-unexpected"
    assert "not from 'sandbox'" in caught.value.message
