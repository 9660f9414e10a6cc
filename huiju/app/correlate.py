"""What a decision or a delivery report means for a case, now or later (correlation, 关联).

A verified callback is judged against what Huiju sent and recorded:

- the step waits for it → it is applied now (the decision resumes the case, the report goes on
  the case's timeline);
- the request it answers has no recorded reply yet, or its reply is recorded but the step does not
  wait for it yet (the reply is being settled, or the extranet is being asked with QueryCase) → it
  is *held* (:mod:`exchange.correlation`) and applied the moment that changes;
- the same fact is known already (another message id, or learnt by asking) → recorded as a
  duplicate, applied never again; another fact is known → refused as a conflict;
- it names a request Huiju never sent, or a receipt it never got → refused.

Held callbacks are taken up after every step that settles the reply of a request they may wait
for (a step listener, after its commit) and by the periodic reconciliation job
(:mod:`huiju.app.reconcile`), so that a crash between the two loses nothing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from exchange import correlation
from exchange.correlation import CallbackKind, CallbackRecord, CallbackState, Source
from exchange.log import Direction, Kind, MessageLogEntry
from exchange.models import MessageStatus, OutboxMessage
from huiju.i18n import Message, _
from huiju.models import Case, CaseEvent
from huiju.runtime import Runtime
from huiju.services.documents import CASE_PARTIES
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import ProcessInstance, WaitingMessage
from workflows_bpmn.runner import Engine

log = logging.getLogger(__name__)

DECISION_MESSAGE = "egov_decision"
DECISION_CORRELATION = "case_number_key"
SUBMIT_CASE = "egov.submit_case"
QUERY_CASE = "egov.query_case"
SEND_SMS = "sms.send_sms"
DECISIONS = ("approved", "denied")
#: Settling the reply of one of these may let a held callback through.
WATCHED_OPERATIONS = (SUBMIT_CASE, QUERY_CASE, SEND_SMS)


class Verdict(enum.StrEnum):
    APPLY = "apply"  # the step waits for it: hand it over now
    HOLD = "hold"  # the reply it overtook, or the step it is for, is not there yet: keep it
    DUPLICATE = "duplicate"  # the same fact is known already
    CONFLICT = "conflict"  # another fact is known already
    ENDED = "ended"  # the case went on without waiting for it
    UNKNOWN = "unknown"  # it names a request Huiju never sent, or an answer it never got


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    why: Message | None = None  # said to the sender when refused, kept as the note of a record
    case_number: str | None = None


def _sent_and_unanswered(message: OutboxMessage) -> bool:
    """Sent (or about to be) with no reply recorded: pending, or dead without ever being answered."""
    if message.status is MessageStatus.PENDING:
        return True
    return message.status is MessageStatus.DEAD and message.attempts > 0 and bool(message.last_error_transient)


def _lock_outbox(session: Session, message_id: str) -> OutboxMessage | None:
    stmt = select(OutboxMessage).where(OutboxMessage.message_id == message_id)
    if session.get_bind().dialect.name != "sqlite":  # SQLite: the write transaction holds the lock already
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


# -- decisions of the e-gov extranet (政务外网审批结果) -------------------------------------------------


def waits_for_decision(session: Session, case_number: str) -> bool:
    found = session.scalars(
        select(WaitingMessage.id).where(
            WaitingMessage.name == DECISION_MESSAGE,
            WaitingMessage.correlation_key == DECISION_CORRELATION,
            WaitingMessage.correlation_value == case_number,
        )
    ).first()
    return found is not None


def _query_in_flight(session: Session, case_number: str) -> bool:
    """A QueryCase of the case whose answer its step has not taken yet (reconciliation under way)."""
    found = session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.case_number == case_number,
            OutboxMessage.operation == QUERY_CASE,
            OutboxMessage.settled_at.is_(None),
            OutboxMessage.status != MessageStatus.CANCELLED,
        )
    ).first()
    return found is not None


def known_decision(session: Session, case_number: str) -> str | None:
    """The decision the case has taken: from a callback applied, or from a QueryCase answer it settled."""
    record = correlation.applied(session, CallbackKind.DECISION, case_number)
    if record is not None:
        return record.fact
    answers = session.scalars(
        select(OutboxMessage.reply)
        .where(
            OutboxMessage.case_number == case_number,
            OutboxMessage.operation == QUERY_CASE,
            OutboxMessage.status == MessageStatus.DELIVERED,
            OutboxMessage.settled_at.is_not(None),
        )
        .order_by(OutboxMessage.id.desc())
    )
    for reply in answers:
        decision = (reply or {}).get("decision")
        if decision in DECISIONS:
            return str(decision)
    return None


def judge_decision(session: Session, case_number: str, receipt_number: str, decision: str) -> Judgement:
    submits = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.case_number == case_number, OutboxMessage.operation == SUBMIT_CASE)
        .order_by(OutboxMessage.id)
    ).all()
    if not submits:
        return Judgement(Verdict.UNKNOWN, _("case {case} was never reported to the extranet", case=case_number))
    matching = [
        m for m in submits
        if m.status is MessageStatus.DELIVERED and (m.reply or {}).get("receipt_number") == receipt_number
    ]  # fmt: skip
    if matching:
        if waits_for_decision(session, case_number):
            return Judgement(Verdict.APPLY)
        if matching[-1].settled_at is None:
            return Judgement(Verdict.HOLD, _("the receipt {receipt} is recorded; the case takes it next",
                                             receipt=receipt_number))  # fmt: skip
        if _query_in_flight(session, case_number):
            return Judgement(Verdict.HOLD, _("the extranet is being asked about case {case}", case=case_number))
        known = known_decision(session, case_number)
        if known is None:
            return Judgement(Verdict.ENDED, _("case {case} no longer waits for the extranet's decision",
                                              case=case_number))  # fmt: skip
        if known == decision:
            return Judgement(Verdict.DUPLICATE, _("case {case} has this decision already", case=case_number))
        if known == "approved":
            return Judgement(Verdict.CONFLICT, _("case {case} was approved already", case=case_number))
        return Judgement(Verdict.CONFLICT, _("case {case} was denied already", case=case_number))
    unanswered = [m for m in submits if _sent_and_unanswered(m)]
    if unanswered:
        return Judgement(Verdict.HOLD, _("the reply to SubmitCase {message_id} is not recorded yet",
                                         message_id=unanswered[-1].message_id))  # fmt: skip
    return Judgement(Verdict.UNKNOWN, _("receipt {receipt} was not given for case {case}",
                                        receipt=receipt_number, case=case_number))  # fmt: skip


#: The case that waits for its decision, with what its documents say of it (the decision issues one),
#: and its instance with its lock version: the decision's step then reads nothing more.
_WAITING_CASE = (
    select(Case, ProcessInstance.id, ProcessInstance.lock_version)
    .join(ProcessInstance, ProcessInstance.id == Case.process_instance_id)
    .join(
        WaitingMessage,
        and_(
            WaitingMessage.instance_id == ProcessInstance.id, WaitingMessage.name == DECISION_MESSAGE,
            WaitingMessage.correlation_key == DECISION_CORRELATION, WaitingMessage.correlation_value == Case.number,
        ),
    )
    .where(Case.number == bindparam("number"))
    .options(*CASE_PARTIES)
)  # fmt: skip


def apply_decision(session: Session, engine: Engine, payload: dict[str, Any], actor: str) -> None:
    number = str(payload["case_number"])
    found = session.execute(_WAITING_CASE, {"number": number}).first()
    # Not found: the engine looks for whatever waits for it, and says why nothing does.
    waiting = (found[1], found[2]) if found is not None else None
    engine.deliver_message(session, DECISION_MESSAGE, {DECISION_CORRELATION: number}, payload, actor=actor,
                           waiting=waiting)  # fmt: skip


# -- delivery reports of the SMS platform (短信状态报告) ----------------------------------------------------


def judge_delivery(session: Session, relates_to: str, sms_id: str, status: str) -> Judgement:
    message = _lock_outbox(session, relates_to)
    if message is None:
        # An SMS sent while a person waited (a registration code): only the message log knows it.
        sent = session.execute(
            select(MessageLogEntry.case_number).where(
                MessageLogEntry.message_id == relates_to,
                MessageLogEntry.direction == Direction.OUT,
                MessageLogEntry.kind == Kind.REQUEST,
                MessageLogEntry.operation == SEND_SMS,
            )
        ).first()
        if sent is None:
            return Judgement(Verdict.UNKNOWN, _("no SMS was sent with message id {message_id}", message_id=relates_to))
        if correlation.applied(session, CallbackKind.DELIVERY, relates_to, status) is not None:
            return Judgement(Verdict.DUPLICATE, _("this delivery was reported already"), sent.case_number)
        return Judgement(Verdict.APPLY, case_number=sent.case_number)
    if message.operation != SEND_SMS:
        return Judgement(Verdict.UNKNOWN, _("no SMS was sent with message id {message_id}", message_id=relates_to))
    if message.status is MessageStatus.DELIVERED:
        sent_as = str((message.reply or {}).get("sms_id") or "")
        if sent_as and sent_as != sms_id:
            return Judgement(Verdict.UNKNOWN, _("the SMS sent with message id {message_id} is {sent}, not {reported}",
                                                message_id=relates_to, sent=sent_as, reported=sms_id),
                             message.case_number)  # fmt: skip
        if correlation.applied(session, CallbackKind.DELIVERY, relates_to, status) is not None:
            return Judgement(Verdict.DUPLICATE, _("this delivery was reported already"), message.case_number)
        return Judgement(Verdict.APPLY, case_number=message.case_number)
    if _sent_and_unanswered(message):
        return Judgement(Verdict.HOLD, _("the reply to SendSms {message_id} is not recorded yet",
                                         message_id=relates_to), message.case_number)  # fmt: skip
    return Judgement(Verdict.UNKNOWN, _("no SMS was sent with message id {message_id}", message_id=relates_to),
                     message.case_number)  # fmt: skip


def apply_delivery(session: Session, payload: dict[str, Any], case_number: str | None, actor: str) -> None:
    """The report goes on the timeline of the case whose SMS it reports on (if the SMS was a case's)."""
    if case_number is None:
        return
    case = session.scalars(select(Case).where(Case.number == case_number)).one_or_none()
    if case is None:
        return
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.message_id == payload["relates_to"])
    ).one_or_none()
    reply_to = message.reply_to if message is not None else {}
    data: dict[str, Any] = {"message_id": payload["relates_to"]}
    if payload.get("source") == Source.QUERY:
        data["source"] = "query"
    session.add(
        CaseEvent(case_id=case.id, kind=f"sms_{payload['status']}", actor=actor, system="sms",
                  step=reply_to.get("step"), step_name=reply_to.get("step_name"), detail=str(payload["sms_id"]),
                  data=data)
    )  # fmt: skip


def note_held(session: Session, record: CallbackRecord, why: Message | None) -> None:
    """A held callback shows on its case's timeline: the officer sees that the answer is in hand."""
    if record.case_number is None:
        return
    case = session.scalars(select(Case).where(Case.number == record.case_number)).one_or_none()
    if case is not None:
        session.add(
            CaseEvent(case_id=case.id, kind="callback_held", actor=record.client, system=_system(record),
                      detail=str(why or ""),
                      data={"message_id": record.message_id, "kind": str(record.kind), "reason": record.reason})
        )  # fmt: skip


def _system(record: CallbackRecord) -> str:
    return "egov_approval" if record.kind is CallbackKind.DECISION else "sms"


# -- held callbacks, taken up later ----------------------------------------------------------------------


def correlate(runtime: Runtime, record_id: int) -> CallbackState | None:
    """Judge a held callback again; apply it if its step waits now. Its state afterwards (None: not held)."""
    with runtime.db.transaction() as session:
        record = correlation.lock(session, record_id)
        if record is None or record.state is not CallbackState.HELD:
            return None
        if record.kind is CallbackKind.DECISION:
            judged = judge_decision(session, record.subject, record.reference or "", record.fact)
        else:
            judged = judge_delivery(session, record.subject, record.reference or "", record.fact)
        if judged.verdict is Verdict.HOLD:
            return CallbackState.HELD
        if judged.verdict is Verdict.APPLY:
            if record.kind is CallbackKind.DECISION:
                apply_decision(session, runtime.engine, record.payload, record.client)
            else:
                apply_delivery(session, record.payload, record.case_number, record.client)
            correlation.resolve(record, CallbackState.APPLIED)
        elif judged.verdict is Verdict.DUPLICATE:
            correlation.resolve(record, CallbackState.DUPLICATE, judged.why)
        elif judged.verdict is Verdict.UNKNOWN:
            correlation.resolve(record, CallbackState.MISMATCHED, judged.why)
        else:  # CONFLICT, ENDED: the case went on without it
            correlation.resolve(record, CallbackState.SUPERSEDED, judged.why)
        log.info("held callback %s (%s of %s): %s", record.message_id, record.kind, record.subject, record.state)
        return record.state


def correlate_held(runtime: Runtime, record_ids: list[int]) -> dict[int, CallbackState | None]:
    """Each held record in a transaction of its own; one that fails stays held for the next round."""
    done: dict[int, CallbackState | None] = {}
    for record_id in record_ids:
        try:
            done[record_id] = correlate(runtime, record_id)
        except Exception:  # a race with another step, a database restart: the next round takes it
            log.warning("held callback %s could not be correlated now", record_id, exc_info=True)
    return done


def _settles_watched(result: StepResult) -> bool:
    return any(
        entry.kind in ("service_replied", "service_failed", "service_ignored")
        and entry.detail.startswith(WATCHED_OPERATIONS)
        for entry in result.timeline
    )


def correlation_listener(runtime: Runtime) -> Callable[[Session, StepResult], None]:
    """A step listener: after a step that settled a reply held callbacks may wait for, and once that
    step is committed, take up the case's held callbacks (in transactions of their own)."""

    def listener(session: Session, result: StepResult) -> None:
        case_number = result.instance.context.get("case_number")
        if not case_number or result.callbacks_held is False or not _settles_watched(result):
            return  # (callbacks_held False: recording the reply read that none of the case's are held)
        waiting = correlation.held(session, case_numbers=[str(case_number)])
        if not waiting:
            return

        def after_commit(_session: Session) -> None:
            try:
                correlate_held(runtime, waiting)
            except Exception:  # the periodic job takes them up; a committed step must not fail here
                log.warning("held callbacks %s of case %s wait for the next round", waiting, case_number)

        sa_event.listen(session, "after_commit", after_commit, once=True)

    return listener
