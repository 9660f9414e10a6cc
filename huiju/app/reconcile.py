"""Reconciliation (对账), the periodic job ``huiju.reconcile`` of the worker.

Each round it

- takes up held callbacks whose reply has landed or whose step waits now (the step listener of
  :mod:`huiju.app.correlate` does it at once; this round catches what a crash left between the
  commit of a step and its listener's work);
- asks the SMS platform (QueryDelivery) about every SMS whose delivery report has not come within
  ``HUIJU_DELIVERY_QUERY_AFTER`` of its acceptance, and records the answer like a report — once,
  whichever comes first.

The extranet's decision is reconciled by the process itself: a timer on the waiting step of the
subsidy (``timer_query_egov``, ``HUIJU_DECISION_QUERY_AFTER``) asks with QueryCase through the
outbox, and a decision reached both ways is applied once (:func:`huiju.app.correlate.judge_decision`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from exchange import correlation
from exchange.correlation import CallbackKind, CallbackRecord, CallbackState, Reconciliation, Source
from exchange.direct import call_now
from exchange.models import MessageStatus, OutboxMessage
from huiju.app.correlate import QUERY_CASE, SEND_SMS, apply_delivery, correlate_held
from huiju.calendar import Wait, WorkingCalendar
from huiju.db import utcnow
from huiju.errors import HuijuError
from huiju.i18n import _
from huiju.runtime import Runtime

log = logging.getLogger(__name__)

#: How often one SMS is asked about before Huiju stops asking (its timeline says what it knows).
MAX_DELIVERY_QUERIES = 5
#: SMS older than this are not asked about any more.
DELIVERY_QUERY_HORIZON = timedelta(days=7)
QUERIES_PER_ROUND = 20
DELIVERED_STATES = ("delivered", "failed")


@dataclass
class RoundReport:
    correlated: dict[int, CallbackState | None] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)  # SendSms message ids asked about (QueryDelivery)
    learnt: list[str] = field(default_factory=list)  # ... of which the answer settled the delivery

    def __bool__(self) -> bool:
        return bool(self.correlated or self.asked)


def run_round(runtime: Runtime, *, now: datetime | None = None, deliveries: bool = True) -> RoundReport:
    """One round: held callbacks, then (with ``deliveries``) the SMS whose report is overdue."""
    report = RoundReport()
    with runtime.db.sessions() as session:
        held = correlation.held(session)
    if held:
        report.correlated = correlate_held(runtime, held)
    if deliveries:
        ask_about_deliveries(runtime, report, now=now or utcnow())
    return report


def delivery_round_interval(wait: Wait) -> float:
    """Seconds between two looks for overdue delivery reports: a quarter of the wait, 1 s to 60 s
    (the look scans a week of SMS; the held callbacks are looked at every round)."""
    shortest = wait.elapsed.total_seconds() + wait.working_days * 86400
    return min(60.0, max(1.0, shortest / 4))


# -- delivery reports that did not come (QueryDelivery) -----------------------------------------------------


def overdue_sms(session: Session, wait: Wait, now: datetime, limit: int = QUERIES_PER_ROUND) -> list[OutboxMessage]:
    """SMS accepted by the platform whose delivery is not known, once their wait is over (oldest first)."""
    # A working day is at least a calendar day: a cheap lower bound in SQL, the exact end in Python.
    bound = now - wait.elapsed - timedelta(days=wait.working_days)
    reported = exists().where(
        CallbackRecord.kind == CallbackKind.DELIVERY,
        CallbackRecord.subject == OutboxMessage.message_id,
        CallbackRecord.state == CallbackState.APPLIED,
    )
    asked_enough = exists().where(
        Reconciliation.kind == CallbackKind.DELIVERY,
        Reconciliation.subject == OutboxMessage.message_id,
        (Reconciliation.settled.is_(True))
        | (Reconciliation.attempts >= MAX_DELIVERY_QUERIES)
        | (Reconciliation.last_asked_at > bound),
    )
    candidates = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.operation == SEND_SMS,
            OutboxMessage.status == MessageStatus.DELIVERED,
            OutboxMessage.delivered_at <= bound,
            OutboxMessage.delivered_at >= now - DELIVERY_QUERY_HORIZON,
            ~reported,
            ~asked_enough,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    if wait.working_days == 0:
        return list(candidates)
    calendar = WorkingCalendar.load(session)
    return [m for m in candidates if m.delivered_at is not None and wait.after(m.delivered_at, calendar) <= now]


def ask_about_deliveries(runtime: Runtime, report: RoundReport, *, now: datetime) -> None:
    wait = Wait.parse(runtime.settings.delivery_query_after)
    with runtime.db.sessions() as session:
        overdue = [(m.message_id, str((m.reply or {}).get("sms_id") or ""), m.case_number)
                   for m in overdue_sms(session, wait, now)]  # fmt: skip
    for message_id, sms_id, case_number in overdue:
        if not sms_id:
            continue
        report.asked.append(message_id)
        query_id = str(uuid.uuid4())
        answer: dict[str, Any] | None = None
        error: str | None = None
        try:
            answer = call_now(runtime.db, "sms.query_delivery", {"sms_id": sms_id}, user_id="system",
                              security=runtime.security, case_number=case_number, message_id=query_id)  # fmt: skip
        except HuijuError as exc:
            error = exc.message
            log.info("QueryDelivery for %s failed: %s", message_id, error)
        if _record_answer(runtime, message_id, sms_id, case_number, query_id, answer, error):
            report.learnt.append(message_id)


def _record_answer(
    runtime: Runtime, message_id: str, sms_id: str, case_number: str | None, query_id: str,
    answer: dict[str, Any] | None, error: str | None,
) -> bool:  # fmt: skip
    """Keep what the platform answered; a final delivery state is recorded like a report, once."""
    with runtime.db.transaction() as session:
        row = session.scalars(
            select(Reconciliation).where(
                Reconciliation.kind == CallbackKind.DELIVERY, Reconciliation.subject == message_id
            )
        ).one_or_none()
        if row is None:
            row = Reconciliation(kind=CallbackKind.DELIVERY, subject=message_id, case_number=case_number, attempts=0,
                                 settled=False)  # fmt: skip
            session.add(row)
        row.attempts += 1
        row.last_asked_at = utcnow()
        row.answer, row.last_error = answer, error
        status = str((answer or {}).get("status") or "")
        if status not in DELIVERED_STATES:
            return False
        row.settled = True
        if correlation.applied(session, CallbackKind.DELIVERY, message_id, status) is not None:
            return False  # the report came meanwhile
        payload = {
            "relates_to": message_id, "sms_id": sms_id, "status": status,
            "delivered_at": str((answer or {}).get("delivered_at") or ""), "source": Source.QUERY.value,
        }  # fmt: skip
        apply_delivery(session, payload, case_number, "sms")
        correlation.record(
            session, message_id=query_id, kind=CallbackKind.DELIVERY, source=Source.QUERY, client="sms",
            case_number=case_number, subject=message_id, reference=sms_id, fact=status, payload=payload,
            state=CallbackState.APPLIED, why=_("learnt by QueryDelivery: no report came in time"),
        )  # fmt: skip
        return True


# -- figures --------------------------------------------------------------------------------------------------


def figures(session: Session) -> dict[str, int]:
    """What reconciliation has seen: callbacks by source and state, held ones and what became of
    them, QueryCase calls made by the processes and QueryDelivery calls made by this job."""
    found = correlation.counts(session)
    found["query_case"] = int(
        session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.operation == QUERY_CASE))
        or 0
    )
    found["query_delivery"] = int(session.scalar(select(func.coalesce(func.sum(Reconciliation.attempts), 0))) or 0)
    return found


def register(celery: Any, runtime: Callable[[], Runtime]) -> None:
    """Bind the round to a Celery app as ``huiju.reconcile`` (beat runs it with the sweep)."""

    next_look = [0.0]  # when this process next looks for overdue delivery reports (monotonic)

    @celery.task(name="huiju.reconcile", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def reconcile_task() -> None:
        rt = runtime()
        look = time.monotonic() >= next_look[0]
        if look:
            next_look[0] = time.monotonic() + delivery_round_interval(Wait.parse(rt.settings.delivery_query_after))
        report = run_round(rt, deliveries=look)
        if report:
            log.info("reconcile: held %s, asked about %s, learnt %s", report.correlated, report.asked, report.learnt)
