"""The sandbox calling back: the extranet's decision on a reported case, the SMS platform's reports.

After SubmitCase the e-gov extranet decides later and tells Huiju by a signed SOAP call to its
inbound endpoint (NotifyDecision); after SendSms the SMS platform reports delivery
(NotifyDelivery); the payment platform reports a payment paid, failed or refunded
(NotifyPayment). Each callback is sent from a background thread after a short delay, signed with
the sandbox's key, and sent again (same message id) until Huiju answers with a verified reply —
or says it already has that id. What was sent and how it ended is kept for tests and the demo.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from lxml import etree

from adapters.contracts import EXCHANGE_NS, PROTOCOL_VERSION
from adapters.receiver import ReceiverSecurity
from adapters.soapserver import SOAP_ENV, element
from certs.errors import CertificateError
from certs.xmlsig import request_hash, sign_envelope, verify_envelope

INBOUND_NS = "urn:huiju:inbound:1"
REPLAYED = "message-id-replayed"  # Huiju already has this callback: it counts as delivered


@dataclass
class Callback:
    message_id: str
    operation: str
    case_number: str | None
    values: dict[str, Any]
    client: str
    attempts: int = 0
    outcome: str = "pending"  # pending | accepted | refused | failed
    answer: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id, "operation": self.operation, "case_number": self.case_number,
            "values": self.values, "client": self.client, "attempts": self.attempts, "outcome": self.outcome,
            "answer": self.answer, "at": self.at,
        }  # fmt: skip


class CallbackSender:
    """Sends signed callbacks to ``url`` (Huiju's ``/exchange/soap``) in the background."""

    def __init__(
        self, url: str, security: ReceiverSecurity, *, delay: float = 0.3, attempts: int = 8, timeout: float = 5.0
    ) -> None:
        self.url = url
        self.security = security
        self.delay = delay
        self.attempts = attempts
        self.timeout = timeout
        self.lock = threading.Lock()
        self.sent: list[Callback] = []
        self.decisions: dict[str, tuple[str, str]] = {}  # case number -> (decision, reason), preset

    def preset_decision(self, case_number: str, decision: str, reason: str = "") -> None:
        with self.lock:
            self.decisions[case_number] = (decision, reason)

    def decision(self, case_number: str, receipt_number: str) -> None:
        with self.lock:
            decision, reason = self.decisions.pop(case_number, ("approved", ""))
        values = {
            "caseNumber": case_number, "receiptNumber": receipt_number, "decision": decision,
            "decidedBy": "egov-reviewer-01", "decidedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "reason": reason or None,
        }  # fmt: skip
        self._start(Callback(str(uuid.uuid4()), "NotifyDecision", case_number, values, "egov_approval"))

    def delivery(self, sms_id: str, relates_to: str, case_number: str | None) -> None:
        values = {"smsId": sms_id, "relatesTo": relates_to, "status": "delivered",
                  "deliveredAt": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
        self._start(Callback(str(uuid.uuid4()), "NotifyDelivery", case_number, values, "sms"))

    def payment(self, values: dict[str, Any]) -> None:
        """The payment platform reports a payment paid, failed or refunded (NotifyPayment)."""
        self._start(Callback(str(uuid.uuid4()), "NotifyPayment", str(values["orderNumber"]), values, "payment"))

    def to_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [c.to_json() for c in self.sent]

    def _start(self, callback: Callback) -> None:
        with self.lock:
            self.sent.append(callback)
        threading.Thread(target=self._run, args=(callback,), name="sandbox-callback", daemon=True).start()

    def _run(self, callback: Callback) -> None:
        time.sleep(self.delay)
        pause = 0.5
        while callback.attempts < self.attempts:
            callback.attempts += 1
            try:
                done = self._send_once(callback)
            except (requests.RequestException, CertificateError, etree.XMLSyntaxError) as exc:
                callback.answer = f"{type(exc).__name__}: {exc}"[:500]
                done = False
            if done:
                return
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
        if callback.outcome == "pending":
            callback.outcome = "failed"

    def _send_once(self, callback: Callback) -> bool:
        data = self._envelope(callback)
        reply = requests.post(self.url, data=data, timeout=self.timeout,
                              headers={"Content-Type": "text/xml; charset=utf-8",
                                       "SOAPAction": f"{INBOUND_NS}#{callback.operation}"})  # fmt: skip
        verified = verify_envelope(reply.content, self.security.trust)
        echoed = verified.header.findtext(f"{{{EXCHANGE_NS}}}requestHash")
        if echoed != request_hash(data):
            callback.answer = "the answer does not carry the hash of this request"
            return False
        fault = verified.body.find(f"{{{SOAP_ENV}}}Fault")
        if fault is None:
            callback.outcome, callback.answer = "accepted", "accepted"
            return True
        text = fault.findtext("faultstring") or ""
        callback.answer = text
        if REPLAYED in text:
            callback.outcome = "accepted"
            return True
        callback.outcome = "refused"
        return False  # refused now (e.g. the case is not waiting yet): try again later

    def _envelope(self, callback: Callback) -> bytes:
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
        header = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
        exchange = etree.SubElement(header, f"{{{EXCHANGE_NS}}}ExchangeHeader", nsmap={"ex": EXCHANGE_NS})
        fields = {
            "client": callback.client, "service": f"huiju.{callback.operation}",
            "messageId": callback.message_id, "userId": "system", "caseNumber": callback.case_number,
            "timestamp": datetime.now(UTC).isoformat(), "protocolVersion": PROTOCOL_VERSION,
        }  # fmt: skip
        for name, value in fields.items():
            if value:
                etree.SubElement(exchange, f"{{{EXCHANGE_NS}}}{name}").text = value
        body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
        body.append(element(INBOUND_NS, callback.operation, callback.values))
        signed = sign_envelope(envelope, self.security.signer)
        return etree.tostring(signed, xml_declaration=True, encoding="utf-8")
