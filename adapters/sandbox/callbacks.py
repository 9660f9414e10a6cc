"""The sandbox calling back: the extranet's decision on a reported case, the SMS platform's reports.

After SubmitCase the e-gov extranet decides later and tells Huiju by a signed SOAP call to its
inbound endpoint (NotifyDecision); after SendSms the SMS platform reports delivery
(NotifyDelivery); the payment platform reports a payment paid, failed or refunded (NotifyPayment).
A callback is *owed* by the request that caused it — kept with that request's
journal entry, on disk when the sandbox has a data folder — then sent from a background thread
after a short delay, signed with the sandbox's key, and sent again (same message id) until Huiju
answers with a verified reply, or says it already has that id; after ``attempts`` tries it gives
up, as real government systems do. A sandbox that restarts sends what it still owes.

For fault-injection tests the control API can make the next callbacks of an operation get lost
(``drop``), and re-send every accepted one under new message ids (``resend``: an SMS platform that
restarted and reported its deliveries again).
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
from adapters.sandbox.state import SandboxState
from adapters.soapserver import SOAP_ENV, element
from adapters.tls import KEPT_SESSIONS, ClientTls
from certs.errors import CertificateError
from certs.xmlsig import request_hash, sign_envelope, verify_envelope

INBOUND_NS = "urn:huiju:inbound:1"
REPLAYED = "message-id-replayed"  # Huiju already has this callback: it counts as delivered
#: Outcomes after which a callback is not sent again.
FINAL = frozenset({"accepted", "refused", "failed", "dropped"})


@dataclass
class Callback:
    message_id: str
    operation: str
    case_number: str | None
    values: dict[str, Any]
    client: str
    attempts: int = 0
    outcome: str = "pending"  # pending (being sent) | accepted | refused | failed | dropped
    answer: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id, "operation": self.operation, "case_number": self.case_number,
            "values": self.values, "client": self.client, "attempts": self.attempts, "outcome": self.outcome,
            "answer": self.answer, "at": self.at,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Callback:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


class CallbackSender:
    """Sends signed callbacks to ``url`` (Huiju's ``/exchange/soap``) in the background."""

    def __init__(
        self, url: str, security: ReceiverSecurity, *, delay: float = 0.3, attempts: int = 8, timeout: float = 5.0,
        state: SandboxState | None = None, tls: ClientTls | None = None,
    ) -> None:  # fmt: skip
        if tls is not None and not url.startswith("https://"):
            raise ValueError(f"callbacks with a client certificate go to an https:// URL, not {url}")
        self.url = url
        self.tls = tls  # mTLS: the sandbox's client certificate, and our CA only
        self.security = security
        self.delay = delay
        self.attempts = attempts
        self.timeout = timeout
        self.state = state or SandboxState()
        self.lock = threading.Lock()
        self.known: dict[str, Callback] = {}
        for data in self.state.owed_callbacks():
            callback = Callback.from_json(data)
            self.known[callback.message_id] = callback

    # -- what the systems owe ----------------------------------------------------------------------

    def preset_decision(self, case_number: str, decision: str, reason: str = "") -> None:
        self.state.preset(case_number, decision, reason)

    def drop(self, operation: str, count: int) -> None:
        self.state.drop_callbacks(operation, count)

    def owe(
        self, operation: str, case_number: str | None, values: dict[str, Any], client: str, *, lost: bool = False
    ) -> dict[str, Any]:
        """A new callback (not started: the caller keeps it with its journal entry first); a ``lost``
        one is recorded as dropped and never sent."""
        callback = Callback(str(uuid.uuid4()), operation, case_number, values, client)
        if lost:
            callback.outcome, callback.answer = "dropped", "lost on purpose (injected)"
        with self.lock:
            self.known[callback.message_id] = callback
        return callback.to_json()

    def delivery_values(self, sms_id: str, relates_to: str) -> dict[str, Any]:
        return {"smsId": sms_id, "relatesTo": relates_to, "status": "delivered",
                "deliveredAt": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip

    def start(self, owed: dict[str, Any], *, delay: float | None = None) -> None:
        """Send an owed callback in the background (a dropped one is never sent)."""
        with self.lock:
            callback = self.known.get(owed["message_id"])
        if callback is None or callback.outcome in FINAL:
            return
        threading.Thread(target=self._run, args=(callback, self.delay if delay is None else delay),
                         name="sandbox-callback", daemon=True).start()  # fmt: skip

    def resume(self) -> int:
        """After a restart: send again every callback that was still being sent; how many."""
        with self.lock:
            pending = [c for c in self.known.values() if c.outcome not in FINAL]
        for callback in pending:
            self.start(callback.to_json(), delay=0.0)
        return len(pending)

    def resend(self, operation: str) -> int:
        """Report again, under new message ids, every accepted callback of ``operation``."""
        with self.lock:
            accepted = [c for c in self.known.values() if c.operation == operation and c.outcome == "accepted"]
        for old in accepted:
            owed = self.owe(old.operation, old.case_number, dict(old.values), old.client)
            self.state.save_callback(owed)
            self.start(owed, delay=0.0)
        return len(accepted)

    def to_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [c.to_json() for c in self.known.values()]

    def forget(self) -> None:
        """After a reset: what was owed is forgotten (threads still sending finish on their own)."""
        with self.lock:
            self.known.clear()

    # -- sending -----------------------------------------------------------------------------------

    def _save(self, callback: Callback) -> None:
        with self.lock:
            data = callback.to_json()
        self.state.save_callback(data)

    def _run(self, callback: Callback, delay: float) -> None:
        time.sleep(delay)
        pause = 0.5
        while callback.attempts < self.attempts:
            callback.attempts += 1
            self._save(callback)
            try:
                done = self._send_once(callback)
            except (requests.RequestException, CertificateError, etree.XMLSyntaxError) as exc:
                callback.answer = f"{type(exc).__name__}: {exc}"[:500]
                done = False
            if done:
                self._save(callback)
                return
            self._save(callback)
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
        if callback.outcome == "pending":
            callback.outcome = "refused" if callback.answer.startswith("request refused") else "failed"
        self._save(callback)

    def _send_once(self, callback: Callback) -> bool:
        data = self._envelope(callback)
        with KEPT_SESSIONS.lend(self.tls) as session:
            reply = session.post(self.url, data=data, timeout=self.timeout,
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
