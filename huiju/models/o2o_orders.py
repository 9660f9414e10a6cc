"""O2O orders (服务订单): placed for oneself or for a parent, offered to providers in turn, followed,
confirmed and rated; their timeline, their offers, complaints about them.

An order refers to its process instance by id (the serialized workflow lives in the engine's
tables). Amounts are fen: ``total_fen = credit_fen + cash_fen``, the credit part spent from the
beneficiary's service credit when the order is placed, the cash part paid on the payment platform.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.applications import Material
from huiju.models.o2o import Provider, Service, ServiceCategory, TimeSlot
from huiju.models.orgs import Org
from huiju.models.residents import Resident
from huiju.models.users import User


class OrderStatus(enum.StrEnum):
    PLACED = "placed"  # 已下单 (the payment, if any, not settled yet)
    DISPATCHED = "dispatched"  # 派单中: offered to a provider
    UNASSIGNED = "unassigned"  # 待人工派单: no provider accepted in time, the operator dispatches
    ACCEPTED = "accepted"  # 已接单
    ON_THE_WAY = "on_the_way"  # 上门服务中
    DONE = "done"  # 服务完成，待确认
    CONFIRMED = "confirmed"  # 已确认
    CANCELLED = "cancelled"  # 已取消


#: Orders that no provider has accepted yet: the orderer may still cancel them.
CANCELLABLE = frozenset({OrderStatus.PLACED, OrderStatus.DISPATCHED, OrderStatus.UNASSIGNED})
FINAL_ORDER = frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED})


class PaymentStatus(enum.StrEnum):
    NONE = "none"  # nothing to pay: the credit covered it
    PENDING = "pending"  # 待支付
    PAID = "paid"
    FAILED = "failed"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    CLOSED = "closed"  # never paid, closed on cancellation


class Order(Base):
    __tablename__ = "o2o_order"
    __table_args__ = (
        CheckConstraint("total_fen = credit_fen + cash_fen", name="split"),
        CheckConstraint("credit_fen >= 0 AND cash_fen >= 0 AND unit_price_fen > 0", name="amounts"),
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_o2o_order_provider_status", "provider_id", "status"),
        Index("ix_o2o_order_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("o2o_service.id"), index=True)
    category: Mapped[ServiceCategory] = mapped_column(Enum(ServiceCategory, native_enum=False, length=32))
    # The provider the order is offered to now, or that accepted it (None while nobody has it).
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("o2o_provider.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)  # the service area
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)  # who is served
    ordered_by_id: Mapped[int] = mapped_column(ForeignKey("huiju_user.id"), index=True)  # who ordered, pays
    contact_phone: Mapped[str] = mapped_column(String(20))  # the orderer's phone (SMS)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("o2o_slot.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    address: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_fen: Mapped[int]
    total_fen: Mapped[int]
    credit_fen: Mapped[int]
    cash_fen: Mapped[int]
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, native_enum=False, length=16))
    payment_status: Mapped[PaymentStatus] = mapped_column(Enum(PaymentStatus, native_enum=False, length=16))
    payment_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the payment platform's id
    # The platform's checkout page (收银台) where the orderer pays the cash part, from its CreatePayment reply.
    pay_url: Mapped[str | None] = mapped_column(String(500))
    process_instance_id: Mapped[int | None] = mapped_column(index=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    done_note: Mapped[str] = mapped_column(Text, default="")
    done_photo_id: Mapped[int | None] = mapped_column(ForeignKey("material.id"))
    # The monthly settlement that counted it (清分结算), once confirmed.
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("o2o_settlement.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    service: Mapped[Service] = relationship()
    provider: Mapped[Provider | None] = relationship()
    community: Mapped[Org] = relationship()
    beneficiary: Mapped[Resident] = relationship()
    ordered_by: Mapped[User] = relationship()
    slot: Mapped[TimeSlot | None] = relationship()
    done_photo: Mapped[Material | None] = relationship()
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )


class OfferOutcome(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"  # not accepted in time: offered to the next provider
    WITHDRAWN = "withdrawn"  # the order was cancelled while offered


class OrderOffer(Base):
    """One offer of an order to one provider (派单记录), with its time limit and how it ended."""

    __tablename__ = "o2o_order_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("o2o_order.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("o2o_provider.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)  # the human task of the offer
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[OfferOutcome] = mapped_column(Enum(OfferOutcome, native_enum=False, length=16))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")

    provider: Mapped[Provider] = relationship()


class OrderEvent(Base):
    """One line of an order's timeline: every turn, who, when."""

    __tablename__ = "o2o_order_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("o2o_order.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    order: Mapped[Order] = relationship(back_populates="events")


class OrderRating(Base):
    """The orderer's rating of a confirmed order, once (五级评价)."""

    __tablename__ = "o2o_order_rating"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("o2o_order.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("o2o_provider.id"), index=True)
    level: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_by: Mapped[str] = mapped_column(String(64))
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"  # 待答复
    ANSWERED = "answered"  # 已答复


class Complaint(Base):
    """A complaint about an order (订单投诉), answered by the operator within a time limit."""

    __tablename__ = "o2o_complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("o2o_order.id"), index=True)
    raised_by: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[ComplaintStatus] = mapped_column(Enum(ComplaintStatus, native_enum=False, length=16))
    due_on: Mapped[date] = mapped_column(Date)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    process_instance_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship()
