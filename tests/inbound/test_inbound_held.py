"""A callback that overtakes its request's reply is kept and applied once the reply lands; a fact that
arrives twice (another message id) is recorded once.

The cases here stop where the worker would have sent a request and died before recording its reply:
the outbox row is pending with one attempt made. The reply then "lands" the way the worker records
and settles it (``land``), and the step listener correlates what was held, after its commit.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from exchange.correlation import CallbackKind, CallbackRecord, CallbackState, Source
from exchange.inbound import INBOUND_NS
from exchange.log import Direction, Kind, Outcome, SignatureStatus
from exchange.models import MessageStatus, OutboxMessage
from huiju.db import utcnow
from huiju.runtime import Runtime
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from tests.inbound.conftest import APPLICANT_ID, FORM, ITEM, OFFICER, REVIEWER, _complete
from tests.inbound.inbound_support import (
    Inbound,
    assert_refused,
    callback_tree,
    decision_values,
    new_message_id,
    settle_pending,
    signed,
)
from tests.support.canned import canned_reply


def settle_except(rt: Runtime, *held_back: str) -> None:
    """Answer and settle every pending message but those of ``held_back`` operations, which are left
    pending with one attempt made: sent by a worker that died before it recorded the reply."""
    while True:
        with rt.db.transaction() as session:
            pending = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.operation.not_in(held_back))
                .order_by(OutboxMessage.id)
            ).all()
            for message in pending:
                message.status, message.reply = MessageStatus.DELIVERED, canned_reply(message)
                message.attempts, message.delivered_at = message.attempts + 1, utcnow()
            batch = [m.message_id for m in pending]
            for message in session.scalars(select(OutboxMessage).where(OutboxMessage.operation.in_(held_back))):
                if message.status is MessageStatus.PENDING:
                    message.attempts = max(message.attempts, 1)
        if not batch:
            return
        for message_id in batch:
            with rt.db.transaction() as session:
                rt.engine.settle(session, message_id)


def land(rt: Runtime, message_id: str, reply: dict[str, Any]) -> None:
    """The reply is recorded and settled, as the worker does once the request is answered."""
    with rt.db.transaction() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        message.status, message.reply, message.delivered_at = MessageStatus.DELIVERED, reply, utcnow()
    with rt.db.transaction() as session:
        rt.engine.settle(session, message_id)


def reported_case(rt: Runtime) -> tuple[str, int, OutboxMessage]:
    """A case whose SubmitCase went out and whose receipt is not recorded: (number, case id, message)."""
    with rt.db.transaction() as session:
        case = submit_case(session, rt.engine, load_actor(session, "admin"), ITEM, APPLICANT_ID, dict(FORM))
        number, case_id = case.number, case.id
    settle_pending(rt)
    _complete(rt, case_id, OFFICER, "accept")
    settle_pending(rt)
    _complete(rt, case_id, REVIEWER, "approve")
    settle_except(rt, "egov.submit_case")
    with rt.db.sessions() as session:
        message = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.case_number == number, OutboxMessage.operation == "egov.submit_case"
            )
        ).one()
    assert message.status is MessageStatus.PENDING and message.attempts == 1
    return number, case_id, message


def records(rt: Runtime) -> list[CallbackRecord]:
    with rt.db.sessions() as session:
        rows = list(session.scalars(select(CallbackRecord).order_by(CallbackRecord.id)))
        session.expunge_all()
        return rows


def _accepted(answer: Any, operation: str) -> None:
    assert answer.status == 200 and answer.fault is None, answer.faultstring if answer.fault is not None else ""
    response = answer.verified.body.find(f"{{{INBOUND_NS}}}{operation}Response")
    assert response is not None and response.findtext(f"{{{INBOUND_NS}}}accepted") == "true"


def _decision(inbound: Inbound, number: str, receipt: str, *, message_id: str | None = None) -> bytes:
    tree = callback_tree("NotifyDecision", decision_values(number, receipt), client="egov_approval",
                         message_id=message_id or new_message_id(), case_number=number)  # fmt: skip
    return signed(tree, inbound.sandbox)


def _kinds(inbound: Inbound, case_id: int) -> list[str]:
    inbound.case_id = case_id
    return [e.kind for e in inbound.events()]


# -- the extranet's decision before the SubmitCase receipt ---------------------------------------------


def test_a_decision_that_overtakes_the_receipt_is_held_then_applied_once(inbound: Inbound) -> None:
    rt = inbound.rt
    number, case_id, submit = reported_case(rt)
    receipt = "ZW-EARLY-0001"
    last = inbound.last_log_id()
    message_id = new_message_id()
    answer = inbound.call(_decision(inbound, number, receipt, message_id=message_id))
    _accepted(answer, "NotifyDecision")  # the sender may stop: Huiju has it
    (record,) = records(rt)
    assert (record.message_id, record.kind, record.source, record.state) == (
        message_id,
        CallbackKind.DECISION,
        Source.CALLBACK,
        CallbackState.HELD,
    )
    assert record.held_at is not None and submit.message_id in (record.note or "")
    # kept whole, signature included, in the hash-chained message log
    entries = inbound.log_after(last)
    assert [(e.direction, e.kind, e.outcome, e.signature_status) for e in entries] == [
        (Direction.IN, Kind.CALLBACK, Outcome.ACCEPTED, SignatureStatus.VALID)
    ]
    assert b"SignatureValue" in (entries[0].envelope or "").encode()
    assert "callback_held" in _kinds(inbound, case_id)
    assert "message_received" not in _kinds(inbound, case_id)

    land(rt, submit.message_id, {"receipt_number": receipt, "received_at": "2026-03-02T10:00:00+08:00"})
    (record,) = records(rt)
    assert record.state is CallbackState.APPLIED and record.resolved_at is not None
    kinds = _kinds(inbound, case_id)
    assert kinds.count("message_received") == 1
    with rt.db.sessions() as session:
        sms = session.scalars(
            select(OutboxMessage.params).where(
                OutboxMessage.case_number == number, OutboxMessage.operation == "sms.send_sms"
            )
        ).all()
    assert [p["template"] for p in sms] == ["CASE_RECEIVED", "CASE_ACCEPTED", "SUBSIDY_APPROVED"]

    # the extranet restarted and says it again under a new message id: recorded, applied never again
    again = inbound.call(_decision(inbound, number, receipt))
    _accepted(again, "NotifyDecision")
    assert [r.state for r in records(rt)] == [CallbackState.APPLIED, CallbackState.DUPLICATE]
    assert _kinds(inbound, case_id).count("message_received") == 1
    assert inbound.chain_ok()


def test_a_held_decision_whose_receipt_turns_out_different_is_kept_as_evidence_only(inbound: Inbound) -> None:
    rt = inbound.rt
    number, case_id, submit = reported_case(rt)
    _accepted(inbound.call(_decision(inbound, number, "ZW-WRONG-0001")), "NotifyDecision")
    land(rt, submit.message_id, {"receipt_number": "ZW-RIGHT-0001", "received_at": "2026-03-02T10:00:00+08:00"})
    (record,) = records(rt)
    assert record.state is CallbackState.MISMATCHED
    assert "ZW-WRONG-0001" in (record.note or "")
    assert "message_received" not in _kinds(inbound, case_id)
    # the case still waits for a decision about the receipt it got
    _accepted(inbound.call(_decision(inbound, number, "ZW-RIGHT-0001")), "NotifyDecision")
    assert _kinds(inbound, case_id).count("message_received") == 1


def test_a_decision_for_a_case_never_reported_is_refused(inbound: Inbound) -> None:
    with inbound.rt.db.transaction() as session:
        case = submit_case(session, inbound.rt.engine, load_actor(session, "admin"), ITEM, APPLICANT_ID, dict(FORM))
        number = case.number
    answer = assert_refused(inbound, _decision(inbound, number, "ZW-0001"), "not-found")
    assert "never reported" in answer.faultstring
    assert records(inbound.rt) == []


def test_a_held_decision_is_taken_up_by_the_periodic_round_after_a_crash(inbound: Inbound) -> None:
    """The reply landed but the process died before its listener correlated: the round does it."""
    from huiju.app.reconcile import run_round

    rt = inbound.rt
    number, case_id, submit = reported_case(rt)
    _accepted(inbound.call(_decision(inbound, number, "ZW-LATE-0001")), "NotifyDecision")
    listeners = list(rt.engine.listeners)
    rt.engine.listeners[:] = [listener for listener in listeners if "correlation" not in listener.__qualname__]
    try:
        land(rt, submit.message_id, {"receipt_number": "ZW-LATE-0001", "received_at": "2026-03-02T10:00:00+08:00"})
    finally:
        rt.engine.listeners[:] = listeners
    assert [r.state for r in records(rt)] == [CallbackState.HELD]
    report = run_round(rt)
    assert list(report.correlated.values()) == [CallbackState.APPLIED]
    assert _kinds(inbound, case_id).count("message_received") == 1


# -- the SMS platform's delivery report before the SendSms reply -------------------------------------------


def _report(inbound: Inbound, relates_to: str, sms_id: str, number: str | None) -> bytes:
    values = {
        "smsId": sms_id,
        "relatesTo": relates_to,
        "status": "delivered",
        "deliveredAt": "2026-03-02T10:05:00+08:00",
    }
    tree = callback_tree("NotifyDelivery", values, client="sms", message_id=new_message_id(), case_number=number)
    return signed(tree, inbound.sandbox)


@pytest.fixture
def receipt_sms(runtime: Runtime) -> tuple[str, int, str]:
    """A new case whose receipt SMS (受理回执) went out and whose SendSms reply is not recorded."""
    with runtime.db.transaction() as session:
        case = submit_case(session, runtime.engine, load_actor(session, "admin"), ITEM, APPLICANT_ID, dict(FORM))
        number, case_id = case.number, case.id
    with runtime.db.transaction() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.case_number == number, OutboxMessage.operation == "sms.send_sms")
        ).one()
        message.attempts = 1
        return number, case_id, message.message_id


def test_a_delivery_report_that_overtakes_the_send_reply_is_held_then_recorded_once(
    inbound: Inbound, receipt_sms: tuple[str, int, str]
) -> None:
    rt = inbound.rt
    number, case_id, message_id = receipt_sms
    _accepted(inbound.call(_report(inbound, message_id, "SMS-EARLY-1", number)), "NotifyDelivery")
    held = [r for r in records(rt) if r.kind is CallbackKind.DELIVERY]
    assert [r.state for r in held] == [CallbackState.HELD]
    assert "sms_delivered" not in _kinds(inbound, case_id)
    land(rt, message_id, {"sms_id": "SMS-EARLY-1", "accepted": True})
    assert [r.state for r in records(rt) if r.kind is CallbackKind.DELIVERY] == [CallbackState.APPLIED]
    assert _kinds(inbound, case_id).count("sms_delivered") == 1
    # the SMS platform restarted and reports the same SMS again under a new message id: recorded once
    _accepted(inbound.call(_report(inbound, message_id, "SMS-EARLY-1", number)), "NotifyDelivery")
    states = [r.state for r in records(rt) if r.kind is CallbackKind.DELIVERY]
    assert states == [CallbackState.APPLIED, CallbackState.DUPLICATE]
    assert _kinds(inbound, case_id).count("sms_delivered") == 1


def test_a_report_about_another_sms_than_the_one_sent_is_refused(
    inbound: Inbound, receipt_sms: tuple[str, int, str]
) -> None:
    rt = inbound.rt
    number, case_id, message_id = receipt_sms
    land(rt, message_id, {"sms_id": "SMS-SENT-1", "accepted": True})
    answer = assert_refused(inbound, _report(inbound, message_id, "SMS-OTHER-9", number), "not-found", still_waits=True)
    assert "SMS-SENT-1" in answer.faultstring
    assert "sms_delivered" not in _kinds(inbound, case_id)


def test_an_integrator_lists_what_is_held_and_why(inbound: Inbound, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from huiju.cli import main

    rt = inbound.rt
    number, _case_id, submit = reported_case(rt)
    _accepted(inbound.call(_decision(inbound, number, "ZW-HELD-0001")), "NotifyDecision")
    monkeypatch.setenv("HUIJU_INSTANCE_PATH", str(rt.settings.instance_path))
    monkeypatch.setenv("HUIJU_ENV", "test")
    monkeypatch.setenv("HUIJU_LANG", "zh_CN")
    listing = CliRunner().invoke(main, ["exchange", "callbacks", "--held"])
    assert listing.exit_code == 0, listing.output
    (line,) = [row for row in listing.output.splitlines() if number in row]
    assert (
        "政务外网审批结果" in line and "暂存，待应答到达" in line and "尚未记录" in line and submit.message_id in line
    )
    assert "当前暂存 1" in listing.output
    monkeypatch.setenv("HUIJU_LANG", "en")
    land(rt, submit.message_id, {"receipt_number": "ZW-HELD-0001", "received_at": "2026-03-02T10:00:00+08:00"})
    after = CliRunner().invoke(main, ["exchange", "callbacks", "--case", number])
    assert "the extranet's decision  called back  applied" in after.output
    assert "held now 0; held, then applied 1" in after.output
