"""The engine listener of community services: it keeps orders, settlements and complaints in step
with their processes, and grants service credit when an elderly-care subsidy is approved.

It runs inside each engine step's transaction (registered at start-up by :mod:`huiju.app.bootstrap`),
so that an order's status and timeline commit together with the step that moved it:

=======================  ==========================================================================
step                     the order
=======================  ==========================================================================
``answer_offer`` ready   offered to the provider the task names (``dispatched``), an offer recorded
``answer_offer`` ended   by its timer: the offer lapsed; by a cancellation: withdrawn
``operator_dispatch``    nobody accepted in time: ``unassigned``, the operator dispatches
``start_service`` ready  ``accepted``;  ``finish_service`` ready: ``on_the_way``;  ``confirm``: ``done``
``confirm`` ended        ``confirmed`` (by a person, or by its timer after the policy's days)
process ends             ``unpaid``/``payment_failed``: cancelled, the credit returned
=======================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.models import OutboxMessage
from huiju.calendar import CHINA
from huiju.db import utcnow
from huiju.models import (
    OfferOutcome,
    Order,
    OrderOffer,
    OrderStatus,
    PaymentStatus,
    Provider,
)
from huiju.services.o2o import credit, feedback, settlement
from huiju.services.o2o.money import yuan
from huiju.services.o2o.orders import event, mark_cancelled
from huiju.services.o2o.payments import checkout_url
from huiju.services.o2o.policy import get_policy
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import InstanceStatus, ProcessInstance
from workflows_bpmn.runner import Engine

#: Processes whose approval grants service credit, and the end event that approves.
GRANTING = {"elderly_care_subsidy": "end_approved"}
#: Ready steps of the order process and the status each one means.
WAITING_STATUS = {
    "operator_dispatch": OrderStatus.UNASSIGNED,
    "start_service": OrderStatus.ACCEPTED,
    "finish_service": OrderStatus.ON_THE_WAY,
    "confirm": OrderStatus.DONE,
}
#: How the order process ends an order it cancels: its outcome, and the kind of timeline entry that says why.
CANCELLING_OUTCOMES = {"unpaid": "unpaid", "payment_failed": "payment_failed_cancelled"}


def listener(engine: Engine) -> Callable[[Session, StepResult], None]:
    """The listener to register on ``engine`` (it reads a finished subsidy's data through it)."""

    def on_step(session: Session, result: StepResult) -> None:
        context = result.instance.context
        if context.get("order_id") is not None:
            order = session.get(Order, context["order_id"])
            if order is not None:
                _order_step(session, order, result)
        elif context.get("settlement_id") is not None or context.get("complaint_id") is not None:
            settlement.on_step(session, result)
            feedback.on_step(session, result)
        elif context.get("case_id") is not None and result.instance.process_id in GRANTING:
            _grant_on_approval(session, engine, result)

    return on_step


# -- orders -----------------------------------------------------------------------------------------------


def _order_step(session: Session, order: Order, result: StepResult) -> None:
    kinds = {entry.kind for entry in result.timeline}
    cancelled_by_message = any(e.kind == "message_received" and e.detail == "order_cancel" for e in result.timeline)
    for entry in result.timeline:
        if entry.kind == "task_cancelled" and entry.step == "answer_offer":
            _close_offer(session, order, OfferOutcome.WITHDRAWN if cancelled_by_message else OfferOutcome.LAPSED)
        elif entry.kind == "task_cancelled" and entry.step == "confirm" and "timer_fired" in kinds:
            _confirmed(order, "system", auto=True)
        elif entry.kind == "task_completed" and entry.step == "confirm":
            _confirmed(order, entry.actor, auto=False)
        elif entry.kind == "service_replied" and entry.step in ("create_payment", "refund", "close_payment"):
            _payment_reply(session, order, entry.step, str(entry.data.get("message_id")))
        elif entry.kind == "service_failed" and entry.step == "create_payment":
            order.payment_status = PaymentStatus.FAILED
    for task in result.ready_tasks:
        if task.step == "answer_offer":
            _offered(session, order, task.id, task.assignee, task.due_at)
        elif task.step in WAITING_STATUS and order.status is not OrderStatus.CANCELLED:
            new = WAITING_STATUS[task.step]
            if new is OrderStatus.UNASSIGNED:
                order.provider_id = None
                event(order, "unassigned", "system")
            if new is OrderStatus.ACCEPTED and order.accepted_at is None:
                order.accepted_at = utcnow()
            order.status = new
    instance = result.instance
    if instance.status is InstanceStatus.COMPLETED and instance.outcome in CANCELLING_OUTCOMES:
        if instance.outcome == "payment_failed":
            order.payment_status = PaymentStatus.FAILED
        mark_cancelled(session, order, "system", "", kind=CANCELLING_OUTCOMES[instance.outcome])
    order.updated_at = utcnow()


def _offered(session: Session, order: Order, task_id: str, queue: str | None, due: datetime | None) -> None:
    code = (queue or "").removeprefix("provider:")
    provider = session.scalars(select(Provider).where(Provider.code == code)).one_or_none()
    if provider is None:
        return
    session.add(OrderOffer(order_id=order.id, provider_id=provider.id, task_id=task_id, due_at=due,
                           outcome=OfferOutcome.PENDING))  # fmt: skip
    order.provider_id = provider.id
    if order.status in (OrderStatus.PLACED, OrderStatus.DISPATCHED):
        order.status = OrderStatus.DISPATCHED
    event(order, "offered", "system", provider.name, provider=provider.code, due_at=due.isoformat() if due else None)


def _close_offer(session: Session, order: Order, outcome: OfferOutcome) -> None:
    offer = session.scalars(
        select(OrderOffer).where(OrderOffer.order_id == order.id, OrderOffer.outcome == OfferOutcome.PENDING)
        .order_by(OrderOffer.id.desc())
    ).first()  # fmt: skip
    if offer is None:
        return
    offer.outcome, offer.answered_at = outcome, utcnow()
    if outcome is OfferOutcome.LAPSED:
        event(order, "lapsed", "system", offer.provider.name, provider=offer.provider.code)
        if order.provider_id == offer.provider_id:
            order.provider_id = None


def _confirmed(order: Order, by: str, *, auto: bool) -> None:
    if order.status is OrderStatus.CONFIRMED:
        return
    order.status = OrderStatus.CONFIRMED
    order.confirmed_at = utcnow()
    event(order, "auto_confirmed" if auto else "confirmed", by)


def _payment_reply(session: Session, order: Order, step: str, message_id: str) -> None:
    reply = session.scalar(select(OutboxMessage.reply).where(OutboxMessage.message_id == message_id)) or {}
    if step == "create_payment":
        order.payment_id = str(reply.get("payment_id") or "") or None
        order.pay_url = checkout_url(reply.get("pay_url"))
        if order.payment_status is PaymentStatus.NONE or order.payment_status is PaymentStatus.PENDING:
            order.payment_status = PaymentStatus.PENDING
        event(order, "payment_requested", "system", yuan(order.cash_fen), payment_id=order.payment_id)
        return
    status = str(reply.get("status") or "")
    if status == "closed":
        order.payment_status = PaymentStatus.CLOSED
    elif status == "refunding" and order.payment_status is not PaymentStatus.REFUNDED:
        order.payment_status = PaymentStatus.REFUNDING
        event(order, "refund_requested", "system", yuan(order.cash_fen))


# -- credit granted by an approved subsidy ---------------------------------------------------------------


def _grant_on_approval(session: Session, engine: Engine, result: StepResult) -> None:
    instance = result.instance
    if instance.status is not InstanceStatus.COMPLETED or instance.outcome != "approved":
        return
    data = end_data(session, engine, instance, GRANTING[instance.process_id], workflow=result.workflow)
    eligibility = data.get("eligibility") or {}
    try:
        monthly_fen = int(eligibility.get("monthly_amount") or 0) * 100  # the DMN's amount is in yuan a month
    except (TypeError, ValueError):
        return
    decided = (data.get("egov_decision") or {}).get("decided_at")
    credit.grant(
        session, instance.context["case_id"], instance.context["applicant_resident_id"],
        monthly_fen=monthly_fen, tier=str(eligibility.get("tier") or ""),
        decided_on=_china_day(decided), months=get_policy(session).credit_months, by="system",
    )  # fmt: skip


def _china_day(value: Any) -> date:
    """The day (in China) of an ISO date-time from the decision; today when it is absent or unreadable."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None:
            return (moment if moment.tzinfo else moment.replace(tzinfo=CHINA)).astimezone(CHINA).date()
    return utcnow().astimezone(CHINA).date()


def end_data(
    session: Session, engine: Engine, instance: ProcessInstance, step: str, *, workflow: BpmnWorkflow | None = None
) -> dict[str, Any]:
    """The data a finished process had when it reached its end event ``step`` (read, never changed):
    from ``workflow`` (the step's own, when the caller has it), else from the stored state."""
    if workflow is None:
        stored, version = session.execute(
            select(ProcessInstance.serialized, ProcessInstance.serializer_version).where(
                ProcessInstance.id == instance.id
            )
        ).one()
        spec, subprocess_specs = engine.cache.get_by_id(session, instance.definition_id)
        workflow = engine.store.loads(stored, version, spec, subprocess_specs, None)
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        if task.task_spec.bpmn_id == step:
            return dict(task.data)
    return {}
