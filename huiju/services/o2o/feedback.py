"""After the service: the rating of an order (five levels, once), the providers whose average falls
below the platform's threshold, and complaints about an order (订单投诉), answered by the operator
within a limit of working days like residents' service requests (the ``o2o_complaint`` process)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huiju.calendar import WorkingCalendar
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import (
    Complaint,
    ComplaintStatus,
    Order,
    OrderRating,
    OrderStatus,
    Provider,
    Role,
    TimeUnit,
)
from huiju.services import clock
from huiju.services.actors import Actor
from huiju.services.o2o.access import get_order, require_operator, user_of
from huiju.services.o2o.orders import event
from huiju.services.o2o.policy import get_policy
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import HumanTask, HumanTaskStatus
from workflows_bpmn.runner import Engine

LEVELS = (5, 4, 3, 2, 1)
MAX_TEXT = 1000
COMPLAINT_PROCESS = "o2o_complaint"


def rating_of(session: Session, order: Order) -> OrderRating | None:
    return session.scalars(select(OrderRating).where(OrderRating.order_id == order.id)).one_or_none()


def rate_order(session: Session, actor: Actor, number: str, level: int, comment: str = "") -> OrderRating:
    """The orderer (or the resident served, or a linked relative) rates a confirmed order, once."""
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(_("only the orderer or the resident served rates an order"))
    order = get_order(session, actor, number)
    if isinstance(level, bool) or level not in LEVELS:
        raise InputError(_("choose a rating from 1 (very dissatisfied) to 5 (very satisfied)"), field="level")
    comment = comment.strip()
    if len(comment) > MAX_TEXT:
        raise InputError(_("the comment may have at most {n} characters", n=MAX_TEXT), field="comment")
    if order.status is not OrderStatus.CONFIRMED or order.provider_id is None:
        raise ConflictError(_("order {number} can be rated once its completion is confirmed", number=number))
    if rating_of(session, order) is not None:
        raise ConflictError(_("order {number} has been rated already", number=number))
    rating = OrderRating(order_id=order.id, provider_id=order.provider_id, level=level, comment=comment,
                         rated_by=actor.username)  # fmt: skip
    session.add(rating)
    event(order, "rated", actor.username, str(level), level=level)
    session.flush()
    return rating


@dataclass(frozen=True)
class ProviderStanding:
    provider: Provider
    average: float | None  # None: not rated yet
    ratings: int
    flagged: bool  # below the platform's threshold, with enough ratings to say so


def standings(session: Session) -> list[ProviderStanding]:
    """Every provider's average rating, flagged when below the threshold (worst first)."""
    policy = get_policy(session)
    stats = {
        provider_id: (float(avg), int(count))
        for provider_id, avg, count in session.execute(
            select(OrderRating.provider_id, func.avg(OrderRating.level), func.count(OrderRating.id))
            .group_by(OrderRating.provider_id)
        )
    }  # fmt: skip
    found = []
    for provider in session.scalars(select(Provider).order_by(Provider.code)):
        average, count = stats.get(provider.id, (None, 0))
        flagged = (
            average is not None and count >= policy.rating_min_count
            and average * 10 < policy.rating_threshold_tenths
        )  # fmt: skip
        found.append(ProviderStanding(provider, average, count, flagged))
    return sorted(found, key=lambda s: (not s.flagged, s.average if s.average is not None else 6.0, s.provider.code))


# -- complaints ----------------------------------------------------------------------------------------------


def raise_complaint(session: Session, engine: Engine, actor: Actor, number: str, text: str) -> Complaint:
    """A resident complains about an order; the operator answers within the policy's working days."""
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(_("only the orderer or the resident served complains about an order"))
    order = get_order(session, actor, number)
    text = text.strip()
    if not 5 <= len(text) <= MAX_TEXT:
        raise InputError(_("describe the problem in 5 to {n} characters", n=MAX_TEXT), field="text")
    user = user_of(session, actor)
    phone = (user.resident.phone if user.resident else None) or order.contact_phone
    today = clock.china_day(utcnow())
    deadline = WorkingCalendar.load(session).deadline(today, get_policy(session).complaint_days,
                                                       TimeUnit.WORKING_DAYS.value)  # fmt: skip
    count = session.scalar(select(func.count()).select_from(Complaint)) or 0
    complaint = Complaint(number=f"TS{today:%Y%m%d}{count + 1:05d}", order_id=order.id, raised_by=actor.username,
                          text=text, status=ComplaintStatus.OPEN, due_on=deadline.due)  # fmt: skip
    session.add(complaint)
    session.flush()
    complaint.number = f"TS{today:%Y%m%d}{complaint.id:05d}"
    event(order, "complained", actor.username, text, complaint=complaint.number)
    result = engine.start(
        session, COMPLAINT_PROCESS,
        data={"complaint_number": complaint.number, "order_number": order.number, "phone": phone, "text": text},
        context={"complaint_id": complaint.id, "community_id": order.community_id,
                 "due_at": clock.due_at(deadline.due).isoformat(), "actor": actor.username},
        actor=actor.username,
    )  # fmt: skip
    complaint.process_instance_id = result.instance.id
    return complaint


def complaints(session: Session, actor: Actor, *, open_only: bool = False) -> list[Complaint]:
    require_operator(actor)
    stmt = select(Complaint).order_by(Complaint.due_on, Complaint.id)
    if open_only:
        stmt = stmt.where(Complaint.status == ComplaintStatus.OPEN)
    return list(session.scalars(stmt.limit(500)))


def complaints_of(session: Session, actor: Actor, order: Order) -> list[Complaint]:
    get_order(session, actor, order.number)
    return list(session.scalars(select(Complaint).where(Complaint.order_id == order.id).order_by(Complaint.id)))


def answer_complaint(session: Session, engine: Engine, actor: Actor, number: str, answer: str) -> Complaint:
    require_operator(actor)
    complaint = session.scalars(select(Complaint).where(Complaint.number == number)).one_or_none()
    if complaint is None:
        raise NotFoundError(_("no complaint {number}", number=number))
    answer = answer.strip()
    if not answer:
        raise InputError(_("write the answer to the resident"), field="answer")
    if len(answer) > MAX_TEXT:
        raise InputError(_("the answer may have at most {n} characters", n=MAX_TEXT), field="answer")
    task = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == complaint.process_instance_id, HumanTask.step == "answer",
                                HumanTask.status == HumanTaskStatus.READY)
    ).first()  # fmt: skip
    if task is None or complaint.status is not ComplaintStatus.OPEN:
        raise ConflictError(_("complaint {number} has been answered already", number=number))
    engine.complete_task(session, task.id, actor.username, {"decision": "answer", "answer": answer})
    return complaint


def on_step(session: Session, result: StepResult) -> None:
    """Listener part: a complaint is answered when its ``answer`` step is completed."""
    complaint_id = result.instance.context.get("complaint_id")
    complaint = session.get(Complaint, complaint_id) if complaint_id is not None else None
    if complaint is None:
        return
    for entry in result.timeline:
        form = entry.data.get("form") if entry.kind == "task_completed" else None
        if entry.step == "answer" and isinstance(form, dict) and complaint.status is ComplaintStatus.OPEN:
            complaint.status = ComplaintStatus.ANSWERED
            complaint.answer = str(form.get("answer") or "")
            complaint.answered_by, complaint.answered_at = entry.actor, utcnow()
            event(complaint.order, "complaint_answered", entry.actor, complaint.answer, complaint=complaint.number)
