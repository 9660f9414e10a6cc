"""Helpers of the inbound endpoint tests: callbacks crafted the way the sandbox builds them.

A module of its own rather than ``from conftest import ...`` (several test folders have a conftest.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from adapters.contracts import EXCHANGE_NS, PROTOCOL_VERSION
from adapters.soapserver import SOAP_ENV, element
from certs.store import Role, SigningIdentity, active_certificate, load_private_key
from certs.trust import TrustStore
from certs.xmlsig import VerifiedEnvelope, request_hash, sign_envelope, verify_envelope
from exchange.inbound import INBOUND_NS, MAX_REQUEST_BYTES
from exchange.log import Direction, Kind, MessageLogEntry, Outcome, verify_chain
from exchange.models import InboundMessage, MessageStatus, OutboxMessage
from huiju.db import utcnow
from huiju.models import Case, CaseEvent
from huiju.runtime import Runtime
from tests.support.canned import canned_reply
from workflows_bpmn.models import HumanTask, ProcessInstance, WaitingMessage

ENDPOINT = "/exchange/soap"
DECISION_MESSAGE = "egov_decision"


def identity_for(folder: Path, member: str, role: Role) -> SigningIdentity:
    """A member's active key and certificate in any role (a TLS one too, to misuse it for signing)."""
    info = active_certificate(folder, member, role)
    cert_pem = (folder / info.cert_file).read_text()
    return SigningIdentity(
        member=member,
        info=info,
        key=load_private_key(folder, info),
        certificate=x509.load_pem_x509_certificate(cert_pem.encode()),
        chain_pem=(cert_pem, (folder / "ca.cert.pem").read_text()),
    )


def new_message_id() -> str:
    return str(uuid.uuid4())


def callback_tree(
    operation: str,
    values: dict[str, Any],
    *,
    client: str,
    message_id: str,
    case_number: str | None,
    timestamp: datetime | None = None,
) -> etree._Element:
    """The unsigned envelope of a callback, laid out as ``adapters.sandbox.callbacks`` lays it out."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    header = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
    exchange = etree.SubElement(header, f"{{{EXCHANGE_NS}}}ExchangeHeader", nsmap={"ex": EXCHANGE_NS})
    fields = {
        "client": client,
        "service": f"huiju.{operation}",
        "messageId": message_id,
        "userId": "system",
        "caseNumber": case_number,
        "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
        "protocolVersion": PROTOCOL_VERSION,
    }
    for name, value in fields.items():
        if value:
            etree.SubElement(exchange, f"{{{EXCHANGE_NS}}}{name}").text = value
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    body.append(element(INBOUND_NS, operation, values))
    return envelope


def signed(
    tree: etree._Element, identity: SigningIdentity, *, at: datetime | None = None, ttl_seconds: int = 300
) -> bytes:
    document = sign_envelope(tree, identity, at=at, ttl_seconds=ttl_seconds)
    return etree.tostring(document, xml_declaration=True, encoding="utf-8")


def decision_values(
    case_number: str, receipt_number: str, decision: str = "approved", reason: str | None = None
) -> dict[str, Any]:
    return {
        "caseNumber": case_number,
        "receiptNumber": receipt_number,
        "decision": decision,
        "decidedBy": "egov-reviewer-01",
        "decidedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "reason": reason,
    }


@dataclass
class Answer:
    """An answer of the endpoint: verified (signed by Huiju) or, for a call that did not verify, a
    plain Fault that echoes nothing of it."""

    status: int
    data: bytes
    verified: VerifiedEnvelope | None

    @property
    def body(self) -> etree._Element:
        if self.verified is not None:
            return self.verified.body
        body = etree.fromstring(self.data).find(f"{{{SOAP_ENV}}}Body")  # noqa: S320 - our own answer
        assert body is not None
        return body

    @property
    def fault(self) -> etree._Element | None:
        return self.body.find(f"{{{SOAP_ENV}}}Fault")

    @property
    def faultstring(self) -> str:
        fault = self.fault
        assert fault is not None, etree.tostring(self.body)
        return fault.findtext("faultstring") or ""

    def header(self, name: str) -> str | None:
        return self.verified.header.findtext(f"{{{EXCHANGE_NS}}}{name}") if self.verified is not None else None


@dataclass
class Inbound:
    """A Huiju instance with a dev PKI, its web app, and one case waiting for the extranet's decision."""

    rt: Runtime
    client: FlaskClient
    folder: Path
    sandbox: SigningIdentity
    case_number: str
    case_id: int
    instance_id: int
    receipt_number: str

    def trust(self) -> TrustStore:
        return TrustStore.load(self.folder)

    def post(self, data: bytes) -> TestResponse:
        return self.client.post(ENDPOINT, data=data, headers={"Content-Type": "text/xml; charset=utf-8"})

    def call(self, data: bytes, *, signed: bool = True) -> Answer:
        """POST and check the answer: signed by Huiju (and bound to the call) unless the call itself
        did not verify, which gets a plain Fault without any echo."""
        response = self.post(data)
        assert response.headers["Content-Type"].startswith("text/xml")
        if not signed:
            assert b"Signature" not in response.data and b"requestHash" not in response.data
            assert b"ExchangeHeader" not in response.data  # nothing of the call is echoed
            return Answer(response.status_code, response.data, None)
        verified = verify_envelope(response.data, self.trust())
        assert verified.signer.subject.rfc4514_string() == self.huiju_subject()
        try:
            expected: str | None = request_hash(data, max_bytes=MAX_REQUEST_BYTES)
        except Exception:  # noqa: BLE001 - not XML, too large: there is no Body to bind the answer to
            expected = None
        echoed = verified.header.findtext(f"{{{EXCHANGE_NS}}}requestHash")
        assert echoed == expected
        return Answer(response.status_code, response.data, verified)

    def huiju_subject(self) -> str:
        info = active_certificate(self.folder, "huiju", "signing")
        return info.subject

    def decision(self, **overrides: Any) -> bytes:
        """A correct NotifyDecision for the waiting case, signed by the sandbox."""
        message_id = overrides.pop("message_id", new_message_id())
        identity = overrides.pop("identity", self.sandbox)
        client = overrides.pop("client", "egov_approval")
        header_case = overrides.pop("header_case", self.case_number)
        timestamp = overrides.pop("timestamp", None)
        signed_at = overrides.pop("signed_at", None)  # the wsu:Timestamp's Created
        ttl_seconds = overrides.pop("ttl_seconds", 300)
        values = decision_values(self.case_number, self.receipt_number)
        values.update(overrides)
        tree = callback_tree("NotifyDecision", values, client=client, message_id=message_id,
                             case_number=header_case, timestamp=timestamp)  # fmt: skip
        return signed(tree, identity, at=signed_at, ttl_seconds=ttl_seconds)

    # -- what the database holds ------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self.rt.db.sessions() as session:
            instance = session.get(ProcessInstance, self.instance_id)
            assert instance is not None
            case = session.get(Case, self.case_id)
            assert case is not None
            return {
                "inbound": session.scalar(select(func.count()).select_from(InboundMessage)),
                "lock_version": instance.lock_version,
                "instance_status": instance.status,
                "case_status": case.status,
                "waiting": sorted(
                    session.execute(
                        select(WaitingMessage.instance_id, WaitingMessage.name, WaitingMessage.correlation_value)
                    )
                ),
                "outbox": sorted(session.execute(select(OutboxMessage.message_id, OutboxMessage.status))),
                "events": session.scalar(select(func.count()).select_from(CaseEvent)),
                "tasks": sorted(session.execute(select(HumanTask.id, HumanTask.status))),
            }

    def waits(self) -> bool:
        with self.rt.db.sessions() as session:
            found = session.scalars(
                select(WaitingMessage.id).where(
                    WaitingMessage.instance_id == self.instance_id,
                    WaitingMessage.name == DECISION_MESSAGE,
                    WaitingMessage.correlation_value == self.case_number,
                )
            ).first()
            return found is not None

    def last_log_id(self) -> int:
        with self.rt.db.sessions() as session:
            return session.scalar(select(func.max(MessageLogEntry.id))) or 0

    def log_after(self, last_id: int) -> list[MessageLogEntry]:
        with self.rt.db.sessions() as session:
            entries = list(
                session.scalars(
                    select(MessageLogEntry).where(MessageLogEntry.id > last_id).order_by(MessageLogEntry.id)
                )
            )
            session.expunge_all()
            return entries

    def chain_ok(self) -> bool:
        with self.rt.db.sessions() as session:
            report = verify_chain(session)
            return report.ok

    def outbox(self, operation: str) -> list[OutboxMessage]:
        with self.rt.db.sessions() as session:
            rows = list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.operation == operation, OutboxMessage.case_number == self.case_number)
                    .order_by(OutboxMessage.id)
                )
            )
            session.expunge_all()
            return rows

    def events(self) -> list[CaseEvent]:
        with self.rt.db.sessions() as session:
            rows = list(
                session.scalars(select(CaseEvent).where(CaseEvent.case_id == self.case_id).order_by(CaseEvent.id))
            )
            session.expunge_all()
            return rows


#: Refusals of calls whose signature or exchange header did not verify: answered unsigned.
UNVERIFIED_CODES = frozenset({
    "signature-invalid", "certificate-untrusted", "certificate-revoked", "certificate-expired",
    "certificate-wrong-role", "xml-refused", "message-too-large", "timestamp-stale", "timestamp-invalid",
    "header-invalid", "body-invalid", "version-mismatch",
})  # fmt: skip


def assert_refused(inbound: Inbound, data: bytes, code: str, *, still_waits: bool = True) -> Answer:
    before, last = inbound.state(), inbound.last_log_id()
    answer = inbound.call(data, signed=code not in UNVERIFIED_CODES)
    assert answer.status == 500
    assert f"request refused ({code})" in answer.faultstring, answer.faultstring
    assert inbound.state() == before
    assert inbound.waits() is still_waits
    entries = inbound.log_after(last)
    assert [(e.direction, e.kind, e.outcome) for e in entries] == [(Direction.IN, Kind.REFUSAL, Outcome.REFUSED)]
    assert (entries[0].error or "").startswith(f"{code}: ")
    assert inbound.chain_ok()
    return answer


# -- a worker, in process ---------------------------------------------------------------------------


def settle_pending(rt: Runtime) -> list[tuple[str, str, dict[str, Any]]]:
    """Answer and settle every pending outbox message until none is left; never plays the extranet.

    Returns (operation, message id, reply) of each message answered, in order.
    """
    done: list[tuple[str, str, dict[str, Any]]] = []
    while True:
        with rt.db.transaction() as session:
            pending = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.settled_at.is_(None), OutboxMessage.status == MessageStatus.PENDING)
                .order_by(OutboxMessage.id)
            ).all()
            batch: list[tuple[str, str, dict[str, Any]]] = []
            for message in pending:
                reply = canned_reply(message)
                message.status = MessageStatus.DELIVERED
                message.reply = reply
                message.attempts += 1
                message.delivered_at = utcnow()
                batch.append((message.operation, message.message_id, reply))
        if not batch:
            return done
        for operation, message_id, reply in batch:
            with rt.db.transaction() as session:
                rt.engine.settle(session, message_id)
            done.append((operation, message_id, reply))
