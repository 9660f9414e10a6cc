"""O2O orders (服务订单): placed for oneself or for a linked parent, followed, cancelled before a
provider accepts, confirmed when done.

Placing an order is one transaction: the slot booked (a conditional update: never over capacity),
the order written, the beneficiary's credit spent (see :mod:`.credit`), and the ``o2o_order``
process started with what it needs (who to tell by SMS, the providers to offer it to in turn, the
time limits). Everything after that moves through the process and its listener (:mod:`.lifecycle`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import (
    CANCELLABLE,
    OfferOutcome,
    Order,
    OrderEvent,
    OrderOffer,
    OrderRating,
    OrderStatus,
    PaymentStatus,
    Provider,
    ProviderArea,
    ProviderStatus,
    Role,
    Service,
    TimeSlot,
    User,
)
from huiju.services.actors import Actor
from huiju.services.o2o import credit
from huiju.services.o2o.access import check_beneficiary, get_order, user_of, visible_orders
from huiju.services.o2o.money import yuan
from huiju.services.o2o.policy import get_policy, seconds_of
from workflows_bpmn.models import HumanTask, HumanTaskStatus
from workflows_bpmn.runner import Engine

PROCESS = "o2o_order"
PREFIX = "FW"  # 服务订单
CANCEL_MESSAGE = "order_cancel"
CORRELATION = "order_number_key"
MAX_QUANTITY = 10
MAX_NOTE = 500
_PHONE = re.compile(r"^1[3-9]\d{9}$")


def event(order: Order, kind: str, actor: str, detail: str = "", **data: Any) -> None:
    order.events.append(OrderEvent(kind=kind, actor=actor, detail=detail, data=data))


def service_time(moment: datetime) -> str:
    """How an SMS names the time of a service: Beijing time, month-day hour:minute."""
    return moment.astimezone(CHINA).strftime("%m-%d %H:%M")


def _phone_of(session: Session, user: User) -> str | None:
    if user.resident is not None and user.resident.phone:
        return user.resident.phone
    return user.username if _PHONE.match(user.username) else None


@dataclass(frozen=True)
class Placement:
    """What a resident asks for: a service, for whom, when, where."""

    service_code: str
    beneficiary_id: int
    slot_id: int
    address: str
    note: str = ""
    quantity: int = 1
    contact_phone: str = ""


def _check(placement: Placement) -> tuple[str, str, str]:
    address = placement.address.strip()
    if not 4 <= len(address) <= 200:
        raise InputError(_("give the address where the service is wanted (4 to 200 characters)"), field="address")
    note = placement.note.strip()
    if len(note) > MAX_NOTE:
        raise InputError(_("the note may have at most {n} characters", n=MAX_NOTE), field="note")
    phone = re.sub(r"[\s-]", "", placement.contact_phone or "")
    if phone and not _PHONE.match(phone):
        raise InputError(_("'{phone}' is not a mainland mobile number (11 digits)", phone=phone), field="phone")
    if isinstance(placement.quantity, bool) or not 1 <= placement.quantity <= MAX_QUANTITY:
        raise InputError(_("order from 1 to {most} at a time", most=MAX_QUANTITY), field="quantity")
    return address, note, phone


def _book(session: Session, slot_id: int, service: Service, quantity: int) -> TimeSlot:
    slot = session.get(TimeSlot, slot_id)
    if slot is None or slot.service_id != service.id:
        raise InputError(_("choose one of the service's free times"), field="slot")
    if slot.starts_at <= utcnow():
        raise InputError(_("this time has passed; choose another"), field="slot")
    booked = session.execute(
        update(TimeSlot).where(TimeSlot.id == slot.id, TimeSlot.booked + quantity <= TimeSlot.capacity)
        .values(booked=TimeSlot.booked + quantity).execution_options(synchronize_session=False)
    )  # fmt: skip
    if getattr(booked, "rowcount", 0) != 1:
        raise ConflictError(_("this time is fully booked; choose another"), field="slot")
    return slot


def _serves(session: Session, provider_id: int, community_id: int) -> bool:
    found = session.scalar(
        select(ProviderArea.id).where(
            ProviderArea.provider_id == provider_id, ProviderArea.community_id == community_id
        )
    )
    return found is not None


def rating_of(session: Session, provider_id: int) -> tuple[float | None, int]:
    """A provider's average rating and how many ratings it has."""
    avg, count = session.execute(
        select(func.avg(OrderRating.level), func.count(OrderRating.id)).where(OrderRating.provider_id == provider_id)
    ).one()
    return (float(avg) if avg is not None else None, int(count))


def candidates(session: Session, service: Service, community_id: int) -> list[dict[str, str]]:
    """The providers an order is offered to, in turn: the one chosen first, then every other active
    provider with an active service of the same category in the area, best rated first."""
    others = session.scalars(
        select(Provider).join(Service, Service.provider_id == Provider.id)
        .join(ProviderArea, ProviderArea.provider_id == Provider.id)
        .where(Service.category == service.category, Service.active.is_(True),
               Provider.status == ProviderStatus.ACTIVE, ProviderArea.community_id == community_id,
               Provider.id != service.provider_id)
        .distinct()
    ).all()  # fmt: skip
    ranked = sorted(others, key=lambda p: (-(rating_of(session, p.id)[0] or 0.0), p.id))
    return [
        {"code": p.code, "name": p.name, "phone": p.phone, "queue": queue_of(p.code)}
        for p in [service.provider, *ranked]
    ]


def queue_of(provider_code: str) -> str:
    """The assignee an offer's task names: the provider, not one of its staff."""
    return f"provider:{provider_code}"


def place_order(session: Session, engine: Engine, actor: Actor, placement: Placement) -> Order:
    """Check everything, then book, write, spend credit and start the order's process, all at once."""
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(_("only residents and their families place orders"))
    address, note, phone = _check(placement)
    beneficiary = check_beneficiary(session, actor, placement.beneficiary_id)
    service = session.scalars(select(Service).where(Service.code == placement.service_code)).one_or_none()
    if service is None or not service.active or service.provider.status is not ProviderStatus.ACTIVE:
        raise NotFoundError(_("no service '{code}'", code=placement.service_code))
    if not _serves(session, service.provider_id, beneficiary.community_id):
        raise InputError(_("{provider} does not serve {community}", provider=service.provider.name,
                           community=beneficiary.community.name), field="service")  # fmt: skip
    user = user_of(session, actor)
    orderer_phone = phone or _phone_of(session, user)
    phones = [p for p in dict.fromkeys([orderer_phone, beneficiary.phone]) if p]
    if not phones:
        raise InputError(_("give a phone number for the order's messages"), field="phone")
    slot = _book(session, placement.slot_id, service, placement.quantity)
    total = service.price_fen * placement.quantity
    order = Order(
        number=f"{PREFIX}-{uuid.uuid4().hex[:24]}", service=service, category=service.category,
        provider_id=None, community_id=beneficiary.community_id, beneficiary=beneficiary, ordered_by=user,
        contact_phone=phones[0], slot=slot, starts_at=slot.starts_at, ends_at=slot.ends_at, address=address,
        note=note, quantity=placement.quantity, unit_price_fen=service.price_fen, total_fen=total,
        credit_fen=0, cash_fen=total, status=OrderStatus.PLACED, payment_status=PaymentStatus.NONE,
    )  # fmt: skip
    session.add(order)
    session.flush()
    # The number from the row's id: unique without a counter that concurrent orders would race for.
    order.number = f"{PREFIX}{utcnow().astimezone(CHINA):%Y%m%d}{order.id:06d}"
    used = credit.spend(session, order, total, actor.username) if service.credit_eligible else 0
    order.credit_fen, order.cash_fen = used, total - used
    order.payment_status = PaymentStatus.PENDING if order.cash_fen else PaymentStatus.NONE
    event(order, "placed", actor.username, service.name, total_fen=total)
    if used:
        event(order, "credit_spent", actor.username, yuan(used), amount_fen=used)
    session.flush()
    policy = get_policy(session)
    street = beneficiary.community.street
    result = engine.start(
        session,
        PROCESS,
        data={
            "order_number": order.number,
            "service_name": service.name,
            "service_time": service_time(order.starts_at),
            "payer_phone": phones[0],
            # cash_yuan: the amount the SMS asking to pay names (the process has no money formatting).
            "pay": {
                "total_fen": total,
                "credit_fen": order.credit_fen,
                "cash_fen": order.cash_fen,
                "cash_yuan": yuan(order.cash_fen),
            },
            "notify_phones": phones,
            "candidates": candidates(session, service, beneficiary.community_id),
            "limits": {
                "payment_wait": policy.payment_wait,
                "accept_within": policy.accept_within,
                "confirm_within": policy.confirm_within,
                "accept_minutes": str(max(1, seconds_of(policy.accept_within) // 60)),
            },
        },  # fmt: skip
        context={
            "order_id": order.id,
            "order_number": order.number,
            "case_number": order.number,
            "community_id": beneficiary.community_id,
            "street_id": street.id if street else None,
            "applicant_resident_id": beneficiary.id,
            "actor": actor.username,
        },  # fmt: skip
        actor=actor.username,
    )
    order.process_instance_id = result.instance.id
    return order


# -- following ---------------------------------------------------------------------------------------------


def list_orders(
    session: Session, actor: Actor, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Order]:
    stmt = visible_orders(session, actor)
    if status:
        try:
            stmt = stmt.where(Order.status == OrderStatus(status))
        except ValueError as exc:
            raise InputError(_("unknown order status '{status}'", status=status), field="status") from exc
    return list(session.scalars(stmt.order_by(Order.id.desc()).limit(min(limit, 500)).offset(offset)))


def ready_task(session: Session, order: Order, step: str) -> HumanTask | None:
    if order.process_instance_id is None:
        return None
    return session.scalars(
        select(HumanTask).where(HumanTask.instance_id == order.process_instance_id, HumanTask.step == step,
                                HumanTask.status == HumanTaskStatus.READY)
    ).first()  # fmt: skip


def offers_of(session: Session, order: Order) -> list[OrderOffer]:
    return list(session.scalars(select(OrderOffer).where(OrderOffer.order_id == order.id).order_by(OrderOffer.id)))


def can_cancel(order: Order) -> bool:
    return order.status in CANCELLABLE


def cancel_order(session: Session, engine: Engine, actor: Actor, number: str, reason: str = "") -> Order:
    """Cancel an order no provider has accepted yet: the credit comes back at once, a payment is
    refunded (or closed, if not paid) by the process through the payment platform."""
    if actor.role not in (Role.RESIDENT, Role.OPERATOR):
        raise PermissionDenied(_("only the orderer, the parent's family and the operator cancel orders"))
    order = get_order(session, actor, number)
    if not can_cancel(order):
        raise ConflictError(_("order {number} can no longer be cancelled: a provider has taken it or it has "
                              "ended", number=number))  # fmt: skip
    reason = reason.strip()
    if len(reason) > MAX_NOTE:
        raise InputError(_("the note may have at most {n} characters", n=MAX_NOTE), field="reason")
    offer = ready_task(session, order, "answer_offer")
    if offer is not None:  # being offered: the offer is withdrawn, which ends the round (see o2o_order.bpmn)
        form = {"decision": "withdrawn", "reason": reason, "provider": ""}
        engine.complete_task(session, offer.id, actor.username, form)
    else:
        payload = {"order_number": order.number, "by": actor.username, "reason": reason}
        try:
            engine.deliver_message(session, CANCEL_MESSAGE, {CORRELATION: order.number}, payload,
                                   actor=actor.username)  # fmt: skip
        except NotFoundError as exc:  # its payment is being opened: the process cannot take it yet
            raise ConflictError(_("order {number} is being set up; try again in a minute", number=number)) from exc
    mark_cancelled(session, order, actor.username, reason)
    return order


def mark_cancelled(session: Session, order: Order, by: str, reason: str, kind: str = "cancelled") -> None:
    """The order is cancelled: its credit returned and its slot freed, once."""
    if order.status is OrderStatus.CANCELLED:
        return
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = utcnow()
    order.cancel_reason = reason
    pending = select(OrderOffer).where(OrderOffer.order_id == order.id, OrderOffer.outcome == OfferOutcome.PENDING)
    for offer in session.scalars(pending):
        offer.outcome, offer.answered_at = OfferOutcome.WITHDRAWN, utcnow()
    if order.slot_id is not None:
        session.execute(
            update(TimeSlot).where(TimeSlot.id == order.slot_id, TimeSlot.booked >= order.quantity)
            .values(booked=TimeSlot.booked - order.quantity).execution_options(synchronize_session=False)
        )  # fmt: skip
    returned = credit.give_back(session, order, by)
    event(order, kind, by, reason)
    if returned:
        event(order, "credit_returned", by, yuan(returned), amount_fen=returned)


def confirm_order(session: Session, engine: Engine, actor: Actor, number: str) -> Order:
    """The orderer, the served resident or a linked relative confirms the service was done."""
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(_("only the orderer or the resident served confirms an order"))
    order = get_order(session, actor, number)
    task = ready_task(session, order, "confirm")
    if task is None or order.status is not OrderStatus.DONE:
        raise ConflictError(_("order {number} is not waiting for your confirmation", number=number))
    engine.complete_task(session, task.id, actor.username, {"decision": "confirm"})
    return order
