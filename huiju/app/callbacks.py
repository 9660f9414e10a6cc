"""What Huiju does with verified callbacks from the government systems (registered at start-up).

The exchange layer verifies and logs a call, then hands it here: a decision of the e-gov extranet
resumes the case waiting for it (the BPMN message ``egov_decision``, correlated by case number);
an SMS delivery report goes on the timeline of the case whose message it reports on; the payment
platform's report of a payment paid, failed or refunded goes to the O2O order it belongs to (the
payment's own state makes a repeated report a no-op).

A callback that overtook the reply of the request it answers (the extranet decided before Huiju
recorded the SubmitCase receipt; the SMS platform reported before the SendSms reply was stored) is
never refused: it is kept, answered as accepted, and correlated when the reply lands
(:mod:`huiju.app.correlate`). A fact that arrives twice, under another message id or after Huiju
asked for it, is recorded once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.config import AdapterConfig
from exchange import correlation
from exchange.correlation import CallbackKind, CallbackState, Source
from exchange.inbound import InboundCall, InboundEndpoint, InboundHandler
from huiju.app.correlate import (
    DECISION_CORRELATION,
    DECISION_MESSAGE,
    DECISIONS,
    Judgement,
    Verdict,
    apply_decision,
    apply_delivery,
    judge_decision,
    judge_delivery,
    note_held,
)
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.i18n import _
from huiju.services.o2o.payments import PaymentReport, payment_reported
from workflows_bpmn.runner import Engine

__all__ = ["DECISION_CORRELATION", "DECISION_MESSAGE", "deliver_decision", "inbound_endpoint", "partner_of"]

#: What a verdict that is not a refusal makes of a new callback's record.
_KEPT = {
    Verdict.APPLY: CallbackState.APPLIED,
    Verdict.HOLD: CallbackState.HELD,
    Verdict.DUPLICATE: CallbackState.DUPLICATE,
}


def _value(call: InboundCall, name: str, *, required: bool = True) -> str:
    value = call.values.get(name)
    if value in (None, "") and required:
        raise InputError(_("{operation} lacks {field}", operation=call.operation, field=name))
    return "" if value is None else str(value)


def _refuse(judged: Judgement) -> None:
    """Refuse what cannot be kept: a request never sent (not found), a fact contradicting one known."""
    why = judged.why or _("the call cannot be applied")
    if judged.verdict is Verdict.UNKNOWN:
        raise NotFoundError(why)
    if judged.verdict in (Verdict.CONFLICT, Verdict.ENDED):
        raise ConflictError(why)


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
        if payload["decision"] not in DECISIONS:
            raise InputError(_("unknown decision {decision}", decision=payload["decision"]))
        if call.case_number is not None and call.case_number != case_number:  # one case, if both name it
            raise InputError(_("the header names case {header}, the decision case {body}",
                               header=call.case_number or "-", body=case_number))  # fmt: skip
        judged = judge_decision(session, case_number, payload["receipt_number"], payload["decision"])
        _refuse(judged)
        if judged.verdict is Verdict.APPLY:
            apply_decision(session, engine, payload, call.client)
        record = correlation.record(
            session, message_id=call.message_id, kind=CallbackKind.DECISION, source=Source.CALLBACK,
            client=call.client, case_number=case_number, subject=case_number, reference=payload["receipt_number"],
            fact=payload["decision"], payload=payload, state=_KEPT[judged.verdict], why=judged.why,
        )  # fmt: skip
        if judged.verdict is Verdict.HOLD:
            note_held(session, record, judged.why)
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
    apply_decision(session, engine, payload, actor="egov_approval")


def notify_delivery(session: Session, call: InboundCall) -> dict[str, Any]:
    relates_to, status, sms_id = _value(call, "relatesTo"), _value(call, "status"), _value(call, "smsId")
    judged = judge_delivery(session, relates_to, sms_id, status)
    _refuse(judged)
    payload = {
        "relates_to": relates_to, "sms_id": sms_id, "status": status,
        "delivered_at": _value(call, "deliveredAt", required=False), "source": Source.CALLBACK.value,
    }  # fmt: skip
    if judged.verdict is Verdict.APPLY:
        apply_delivery(session, payload, judged.case_number, call.client)
    record = correlation.record(
        session, message_id=call.message_id, kind=CallbackKind.DELIVERY, source=Source.CALLBACK,
        client=call.client, case_number=judged.case_number, subject=relates_to, reference=sms_id, fact=status,
        payload=payload, state=_KEPT[judged.verdict], why=judged.why,
    )  # fmt: skip
    if judged.verdict is Verdict.HOLD:
        note_held(session, record, judged.why)
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
