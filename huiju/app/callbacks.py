"""What Huiju does with verified callbacks from the government systems (registered at start-up).

The exchange layer verifies and logs a call, then hands it here: a decision of the e-gov extranet
resumes the case waiting for it (the BPMN message ``egov_decision``, correlated by case number);
an SMS delivery report goes on the timeline of the case whose message it reports on; the payment
platform's report of a payment paid, failed or refunded goes to the O2O order it belongs to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.config import AdapterConfig
from exchange.inbound import InboundCall, InboundEndpoint, InboundHandler
from exchange.models import MessageStatus, OutboxMessage
from huiju.db import utcnow
from huiju.errors import InputError, NotFoundError
from huiju.i18n import _
from huiju.models import Case, CaseEvent
from huiju.services.o2o.payments import PaymentReport, payment_reported
from workflows_bpmn.runner import Engine

DECISION_MESSAGE = "egov_decision"
DECISION_CORRELATION = "case_number_key"


def _value(call: InboundCall, name: str, *, required: bool = True) -> str:
    value = call.values.get(name)
    if value in (None, "") and required:
        raise InputError(_("{operation} lacks {field}", operation=call.operation, field=name))
    return "" if value is None else str(value)


def notify_decision(engine: Engine) -> InboundHandler:
    def handle(session: Session, call: InboundCall) -> dict[str, Any]:
        case_number = _value(call, "caseNumber")
        payload = {
            "case_number": case_number,
            "receipt_number": _value(call, "receiptNumber"),
            "decision": _value(call, "decision"),
            "decided_by": _value(call, "decidedBy"),
            "decided_at": _value(call, "decidedAt"),
            "reason": _value(call, "reason", required=False),
        }
        if payload["decision"] not in ("approved", "denied"):
            raise InputError(_("unknown decision {decision}", decision=payload["decision"]))
        if call.case_number is not None and call.case_number != case_number:  # one case, if both name it
            raise InputError(_("the header names case {header}, the decision case {body}",
                               header=call.case_number or "-", body=case_number))  # fmt: skip
        receipts = set(
            session.scalars(
                select(OutboxMessage.reply["receipt_number"].as_string()).where(
                    OutboxMessage.case_number == case_number, OutboxMessage.operation == "egov.submit_case",
                    OutboxMessage.status == MessageStatus.DELIVERED,
                )
            )
        )  # fmt: skip
        if payload["receipt_number"] not in receipts:
            raise NotFoundError(_("receipt {receipt} was not given for case {case}",
                                  receipt=payload["receipt_number"], case=case_number))  # fmt: skip
        engine.deliver_message(
            session, DECISION_MESSAGE, {DECISION_CORRELATION: case_number}, payload, actor=call.client
        )
        return {}

    return handle


def deliver_decision(
    session: Session, engine: Engine, case_number: str, receipt_number: str, decision: str = "approved",
    reason: str = "", decided_by: str = "egov-reviewer-01",
) -> None:  # fmt: skip
    """What a verified NotifyDecision does; also how tests and benchmarks play the extranet in-process."""
    payload = {
        "case_number": case_number, "receipt_number": receipt_number, "decision": decision,
        "decided_by": decided_by, "decided_at": utcnow().isoformat(), "reason": reason,
    }  # fmt: skip
    engine.deliver_message(session, DECISION_MESSAGE, {DECISION_CORRELATION: case_number}, payload,
                           actor="egov_approval")  # fmt: skip


def notify_delivery(session: Session, call: InboundCall) -> dict[str, Any]:
    relates_to, status = _value(call, "relatesTo"), _value(call, "status")
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == relates_to)).one_or_none()
    if message is None or message.operation != "sms.send_sms":
        raise NotFoundError(_("no SMS was sent with message id {message_id}", message_id=relates_to))
    case = session.scalars(select(Case).where(Case.number == message.case_number)).one_or_none()
    if case is not None:
        session.add(
            CaseEvent(case_id=case.id, kind=f"sms_{status}", actor=call.client, system="sms",
                      step=message.reply_to.get("step"), step_name=message.reply_to.get("step_name"),
                      detail=_value(call, "smsId"), data={"message_id": relates_to})
        )  # fmt: skip
    return {}


def notify_payment(engine: Engine) -> InboundHandler:
    def handle(session: Session, call: InboundCall) -> dict[str, Any]:
        amount = _value(call, "amountFen")
        if not amount.isdigit():
            raise InputError(_("{operation} lacks {field}", operation=call.operation, field="amountFen"))
        report = PaymentReport(
            payment_id=_value(call, "paymentId"), order_number=_value(call, "orderNumber"),
            status=_value(call, "status"), amount_fen=int(amount), at=_value(call, "at", required=False),
        )  # fmt: skip
        payment_reported(session, engine, report, client=call.client)
        return {}

    return handle


def inbound_endpoint(runtime: Any) -> InboundEndpoint:
    """The endpoint with the platform's keys and the handlers above."""
    from adapters.receiver import ReceiverSecurity

    def security() -> ReceiverSecurity:
        if runtime.security is None:
            raise NotFoundError(_("the inbound endpoint needs certificates: run huiju certs init"))
        current = runtime.security()
        return ReceiverSecurity(current.trust, current.signer, member="huiju")

    return InboundEndpoint(
        runtime.db,
        security,
        {
            "NotifyDecision": notify_decision(runtime.engine),
            "NotifyDelivery": notify_delivery,
            "NotifyPayment": notify_payment(runtime.engine),
        },
        partner_of=partner_of,
    )


def partner_of(session: Session, client: str) -> str | None:
    """The member whose certificate must sign a system's calls: its adapter configuration says."""
    config = session.scalars(select(AdapterConfig).where(AdapterConfig.system == client)).one_or_none()
    return config.partner if config is not None else None
