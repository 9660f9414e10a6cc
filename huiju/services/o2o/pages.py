"""What the pages of the portal and the console show of community services, read in one go: plain
data for a template, with what the reader may do now. Who may see what is decided by the services
these call (:mod:`.access`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.models import (
    CANCELLABLE,
    Complaint,
    FamilyLink,
    Order,
    OrderOffer,
    OrderRating,
    OrderStatus,
    PaymentStatus,
    Resident,
    Role,
    ServiceCategory,
)
from huiju.services.actors import Actor
from huiju.services.o2o import catalog, credit, feedback, orders
from huiju.services.o2o.access import beneficiaries, get_order

#: The turns of an order, in order (a cancelled order stops where it was).
STEPS = (
    OrderStatus.PLACED, OrderStatus.DISPATCHED, OrderStatus.ACCEPTED, OrderStatus.ON_THE_WAY, OrderStatus.DONE,
    OrderStatus.CONFIRMED,
)  # fmt: skip


@dataclass(frozen=True)
class Shopping:
    """The services page: categories, whom one orders for, what is offered in their area."""

    categories: list[str]
    category: str | None
    people: list[Resident]
    beneficiary: Resident | None
    balance_fen: int
    offerings: list[catalog.Offering]


def shopping(session: Session, actor: Actor, category: str | None, for_id: int | None) -> Shopping:
    people = beneficiaries(session, actor)
    chosen = next((r for r in people if r.id == for_id), people[0] if people else None)
    offered = catalog.offerings(session, category=category, community_id=chosen.community_id) if chosen else []
    balance = credit.balance(session, chosen.id) if chosen else 0
    return Shopping([c.value for c in ServiceCategory], category, people, chosen, balance, offered)


@dataclass(frozen=True)
class OrderPage:
    order: Order
    steps: list[tuple[str, str]]  # (status, "done" | "current" | "todo")
    offers: list[OrderOffer]
    rating: OrderRating | None
    complaints: list[Complaint]
    can_cancel: bool = False
    can_confirm: bool = False
    can_rate: bool = False
    can_complain: bool = False
    links: list[FamilyLink] = field(default_factory=list)
    #: When a done order is confirmed on its own if nobody confirms it (the confirm task's timer).
    confirm_by: datetime | None = None
    #: What became of the orderer's cash part (see :func:`payment_state`); None when the credit covered all.
    payment: str | None = None
    #: The payment platform's checkout page, for the orderer (or the parent) to pay on while it is awaited.
    pay_url: str | None = None


def payment_state(order: Order) -> str | None:
    """The cash part of an order in one word for its page: ``awaited`` (the platform's page is ready),
    ``preparing`` (CreatePayment not answered yet), ``paid``, ``failed``, ``unpaid`` (not paid in
    time: the process closed the payment and cancelled the order), ``closed`` (cancelled before it
    was paid), ``refunding`` or ``refunded``; None when the service credit covered all of it."""
    status = order.payment_status
    if order.cash_fen <= 0 or status is PaymentStatus.NONE:
        return None
    if status is PaymentStatus.PENDING:
        if order.status is not OrderStatus.PLACED:
            return "closed"  # cancelled while awaited: the process closes the payment
        return "awaited" if order.pay_url else "preparing"
    if status is PaymentStatus.CLOSED:
        return "unpaid" if any(e.kind == "unpaid" for e in order.events) else "closed"
    return status.value


def _steps(order: Order) -> list[tuple[str, str]]:
    if order.status is OrderStatus.CANCELLED:
        return [(OrderStatus.PLACED.value, "done"), (OrderStatus.CANCELLED.value, "current")]
    now = OrderStatus.DISPATCHED if order.status is OrderStatus.UNASSIGNED else order.status
    position = STEPS.index(now)
    marks = []
    for index, step in enumerate(STEPS):
        marks.append((step.value, "done" if index < position else "current" if index == position else "todo"))
    if order.status is OrderStatus.CONFIRMED:
        marks[-1] = (OrderStatus.CONFIRMED.value, "done")
    return marks


def order_page(session: Session, actor: Actor, number: str) -> OrderPage:
    order = get_order(session, actor, number)
    rating = feedback.rating_of(session, order)
    complaints = session.scalars(select(Complaint).where(Complaint.order_id == order.id).order_by(Complaint.id))
    resident_side = actor.role is Role.RESIDENT
    confirm = orders.ready_task(session, order, "confirm") if order.status is OrderStatus.DONE else None
    payment = payment_state(order)
    return OrderPage(
        order=order,
        steps=_steps(order),
        offers=orders.offers_of(session, order),
        rating=rating,
        complaints=list(complaints),
        can_cancel=resident_side and order.status in CANCELLABLE,
        can_confirm=resident_side and confirm is not None,
        can_rate=resident_side and order.status is OrderStatus.CONFIRMED and rating is None,
        can_complain=resident_side and order.status is not OrderStatus.PLACED,
        confirm_by=confirm.due_at if confirm is not None else None,
        payment=payment,
        pay_url=order.pay_url if resident_side and payment == "awaited" else None,
    )  # fmt: skip


def my_orders(session: Session, actor: Actor) -> list[Order]:
    return orders.list_orders(session, actor, limit=200)
