"""Calls the inbound endpoint accepts: the extranet's decision resumes the waiting case, an SMS
delivery report goes on the case's timeline; and the endpoint's WSDL."""

from __future__ import annotations

from sqlalchemy import select

from adapters.soapserver import SOAP_ENV
from exchange.inbound import INBOUND_NS
from exchange.log import Direction, Kind, Outcome, SignatureStatus
from exchange.models import InboundMessage
from tests.inbound.conftest import waiting_case
from tests.inbound.inbound_support import (
    Inbound,
    assert_refused,
    callback_tree,
    decision_values,
    new_message_id,
    settle_pending,
    signed,
)

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"


def test_signed_decision_resumes_the_case(inbound: Inbound) -> None:
    message_id = new_message_id()
    data = inbound.decision(message_id=message_id)
    before, last = inbound.state(), inbound.last_log_id()
    answer = inbound.call(data)  # signed by Huiju, requestHash = request_hash(data): checked by call()
    assert answer.status == 200
    assert answer.fault is None
    response = answer.verified.body.find(f"{{{INBOUND_NS}}}NotifyDecisionResponse")
    assert response is not None
    assert response.findtext(f"{{{INBOUND_NS}}}accepted") == "true"
    assert answer.header("messageId") == message_id
    # the case resumed: it no longer waits, the instance moved, and it asked for the SMS to the applicant
    assert not inbound.waits()
    assert inbound.state()["lock_version"] > before["lock_version"]
    # (the receipt SMS, 受理回执, went out and was settled at submission; the acceptance notice's SMS,
    # 受理通知书, when the community accepted: nothing waits for it)
    sms = inbound.outbox("sms.send_sms")
    assert [(m.params["template"], m.case_number) for m in sms] == [
        ("CASE_RECEIVED", inbound.case_number),
        ("CASE_ACCEPTED", inbound.case_number),
        ("SUBSIDY_APPROVED", inbound.case_number),
    ]
    assert sms[0].settled_at is not None and sms[1].settled_at is not None and sms[2].settled_at is None
    with inbound.rt.db.sessions() as session:
        rows = session.scalars(select(InboundMessage)).all()
        assert [(r.message_id, r.client, r.operation, r.case_number) for r in rows] == [
            (message_id, "egov_approval", "NotifyDecision", inbound.case_number)
        ]
    entries = inbound.log_after(last)
    assert [(e.direction, e.kind, e.outcome, e.signature_status) for e in entries] == [
        (Direction.IN, Kind.CALLBACK, Outcome.ACCEPTED, SignatureStatus.VALID)
    ]
    assert entries[0].message_id == message_id
    assert entries[0].operation == "NotifyDecision"
    assert entries[0].case_number == inbound.case_number
    assert inbound.chain_ok()


def test_denied_decision_is_carried_into_the_case(inbound: Inbound) -> None:
    answer = inbound.call(inbound.decision(decision="denied", reason="不符合条件"))
    assert answer.status == 200 and answer.fault is None
    assert not inbound.waits()
    receipt, accepted, sms = inbound.outbox("sms.send_sms")  # the receipt (受理回执), the acceptance, the denial
    assert [m.params["template"] for m in (receipt, accepted, sms)] == ["CASE_RECEIVED", "CASE_ACCEPTED",
                                                                        "SUBSIDY_DENIED"]  # fmt: skip
    assert "不符合条件" in str(sms.params)


def test_wsdl_points_at_the_request_url(inbound: Inbound) -> None:
    from lxml import etree

    response = inbound.client.get("/exchange/soap?wsdl", base_url="https://huiju.example:8443")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(response.data)
    assert root.tag == f"{{{WSDL_NS}}}definitions"
    addresses = [node.get("location") for node in root.iter(f"{{{WSDL_SOAP_NS}}}address")]
    assert addresses and set(addresses) == {"https://huiju.example:8443/exchange/soap"}
    operations = {node.get("name") for node in root.iter(f"{{{WSDL_NS}}}operation")}
    assert {"NotifyDecision", "NotifyDelivery"} <= operations
    plain = inbound.client.get("/exchange/soap")
    assert plain.status_code == 405


def _delivered_sms(inbound: Inbound) -> tuple[str, str]:
    """Let the extranet decide over HTTP and the SMS platform accept the SMS: (message id, sms id)."""
    assert inbound.call(inbound.decision()).status == 200
    done = settle_pending(inbound.rt)
    sms = [(message_id, str(reply["sms_id"])) for operation, message_id, reply in done if operation == "sms.send_sms"]
    assert len(sms) == 1, done
    return sms[0]


def _delivery(inbound: Inbound, relates_to: str, sms_id: str, *, client: str = "sms") -> bytes:
    values = {
        "smsId": sms_id,
        "relatesTo": relates_to,
        "status": "delivered",
        "deliveredAt": "2026-03-02T10:05:00+08:00",
    }
    tree = callback_tree("NotifyDelivery", values, client=client, message_id=new_message_id(),
                         case_number=inbound.case_number)  # fmt: skip
    return signed(tree, inbound.sandbox)


def test_delivery_report_goes_on_the_timeline(inbound: Inbound) -> None:
    message_id, sms_id = _delivered_sms(inbound)
    last = inbound.last_log_id()
    answer = inbound.call(_delivery(inbound, message_id, sms_id))
    assert answer.status == 200 and answer.fault is None
    assert answer.verified.body.find(f"{{{INBOUND_NS}}}NotifyDeliveryResponse") is not None
    delivered = [e for e in inbound.events() if e.kind == "sms_delivered"]
    assert len(delivered) == 1
    assert delivered[0].detail == sms_id
    assert delivered[0].data == {"message_id": message_id}
    assert delivered[0].actor == "sms"
    entries = inbound.log_after(last)
    assert [(e.kind, e.outcome, e.operation) for e in entries] == [(Kind.CALLBACK, Outcome.ACCEPTED, "NotifyDelivery")]
    assert inbound.chain_ok()


def test_delivery_report_for_an_unknown_message_is_refused(inbound: Inbound) -> None:
    _message_id, sms_id = _delivered_sms(inbound)
    assert_refused(inbound, _delivery(inbound, "no-such-message", sms_id), "not-found", still_waits=False)
    assert not [e for e in inbound.events() if e.kind == "sms_delivered"]


def test_delivery_report_for_a_message_that_is_no_sms_is_refused(inbound: Inbound) -> None:
    (submit,) = inbound.outbox("egov.submit_case")
    assert_refused(inbound, _delivery(inbound, submit.message_id, "SMS1"), "not-found")


def test_extranet_may_not_report_deliveries(inbound: Inbound) -> None:
    message_id, sms_id = _delivered_sms(inbound)
    data = _delivery(inbound, message_id, sms_id, client="egov_approval")
    assert_refused(inbound, data, "client-not-allowed", still_waits=False)


def test_decision_whose_header_names_another_waiting_case_is_refused(inbound: Inbound) -> None:
    """Two cases wait; the signed header says the call serves case A, its body decides case B.

    The header's caseNumber is what the message log files the call under; a body deciding another
    case is a wrong correlation and must be refused, not applied to B.
    """
    other_number, _case_id, _instance_id, other_receipt = waiting_case(inbound.rt)
    data = inbound.decision(caseNumber=other_number, receiptNumber=other_receipt)
    before = inbound.state()
    answer = inbound.call(data)
    assert inbound.state() == before, f"case {other_number} resumed by a call filed under {inbound.case_number}"
    assert answer.status == 500


def test_decision_with_the_receipt_of_another_report_is_refused(inbound: Inbound) -> None:
    """The receipt number binds the decision to the report the extranet received; another one is refused."""
    data = inbound.decision(receiptNumber="ZW9999999999")
    before = inbound.state()
    answer = inbound.call(data)
    assert answer.status == 500, "a decision naming a receipt the case never got was accepted"
    assert inbound.state() == before


def test_header_without_case_number_is_still_served(inbound: Inbound) -> None:
    """The exchange header's caseNumber is optional; the decision correlates by its body."""
    tree = callback_tree("NotifyDecision", decision_values(inbound.case_number, inbound.receipt_number),
                         client="egov_approval", message_id=new_message_id(), case_number=None)  # fmt: skip
    answer = inbound.call(signed(tree, inbound.sandbox))
    assert answer.status == 200, answer.verified.body.find(f"{{{SOAP_ENV}}}Fault")
