"""The elderly-care service credit (服务券) and the monthly settlement (清分结算).

Benefit delivery as OpenG2P models it: an approved subsidy is an :class:`Entitlement` (amount per
month and validity, from the decision); it tops a resident's :class:`CreditAccount` up each month
while it lasts; an order spends credit and a cancellation returns it. Every change of a balance is
a :class:`CreditEntry` in the same transaction, so that the ledger always adds up to the balance
(no fen is lost), and the balance can never go below zero (a check constraint and a conditional
UPDATE). Providers are paid per month in a :class:`Settlement`, published once to the data
exchange platform.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju import reference
from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.o2o import Provider
from huiju.models.residents import Resident


class Entitlement(Base):
    """What an approved elderly-care subsidy grants (补贴资格): so many fen of credit a month."""

    __tablename__ = "o2o_entitlement"
    __table_args__ = (
        CheckConstraint("monthly_fen > 0", name="monthly_fen"),
        CheckConstraint("valid_until >= valid_from", name="validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    # The approved case; none for an entitlement carried over from the district's earlier records.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), unique=True)
    tier: Mapped[str] = mapped_column(String(8), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    monthly_fen: Mapped[int]
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    resident: Mapped[Resident] = relationship()


class CreditAccount(Base):
    """One resident's service credit, in fen; never below zero."""

    __tablename__ = "o2o_credit_account"
    __table_args__ = (CheckConstraint("balance_fen >= 0", name="balance_fen"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), unique=True)
    balance_fen: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    resident: Mapped[Resident] = relationship()


class CreditKind(enum.StrEnum):
    TOP_UP = "top_up"  # 发放: a month of an entitlement (the first at approval)
    SPEND = "spend"  # 使用: an order placed
    RETURN = "return"  # 退回: an order cancelled


class CreditEntry(Base):
    """One line of the credit ledger (服务券明细); ``amount_fen`` is signed, ``balance_after`` the
    balance once it was written."""

    __tablename__ = "o2o_credit_entry"
    __table_args__ = (
        # A month is granted once per entitlement; an order spends once and is given back once.
        UniqueConstraint("entitlement_id", "period"),
        UniqueConstraint("order_id", "kind"),
        CheckConstraint("balance_after >= 0", name="balance_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("o2o_credit_account.id"), index=True)
    kind: Mapped[CreditKind] = mapped_column(Enum(CreditKind, native_enum=False, length=16))
    amount_fen: Mapped[int]
    balance_after: Mapped[int]
    entitlement_id: Mapped[int | None] = mapped_column(ForeignKey("o2o_entitlement.id"))
    period: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM of a top-up
    order_id: Mapped[int | None] = mapped_column(ForeignKey("o2o_order.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(64))


class SettlementStatus(enum.StrEnum):
    PUBLISHING = "publishing"  # 报送中
    PUBLISHED = "published"  # 已报送
    FAILED = "failed"  # the data exchange platform refused it


class Settlement(Base):
    """A provider's month (清分结算单): orders confirmed, paid by credit and by residents, the fee."""

    __tablename__ = "o2o_settlement"
    __table_args__ = (
        UniqueConstraint("provider_id", "month"),
        CheckConstraint("total_fen = credit_fen + cash_fen", name="split"),
        CheckConstraint("payable_fen = total_fen - fee_fen", name="payable"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("o2o_provider.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, in China time
    orders: Mapped[int]
    total_fen: Mapped[int]
    credit_fen: Mapped[int]
    cash_fen: Mapped[int]
    fee_fen: Mapped[int]
    payable_fen: Mapped[int]
    # The record published to the data exchange platform, and its signature (Huiju's key).
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[SettlementStatus] = mapped_column(Enum(SettlementStatus, native_enum=False, length=16))
    process_instance_id: Mapped[int | None] = mapped_column(index=True)
    record_id: Mapped[str | None] = mapped_column(String(64))  # the data exchange platform's id
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Provider] = relationship()


class O2OPolicy(Base):
    """The platform's rules (运营规则), one row, edited by the operator: time limits as ISO 8601
    durations, the complaint limit in working days, the rating threshold in tenths of a star."""

    __tablename__ = "o2o_policy"
    __table_args__ = (
        CheckConstraint("rating_threshold_tenths BETWEEN 10 AND 50", name="rating_threshold"),
        reference.table_info(),  # kept between steps (huiju.services.o2o.policy)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    accept_within: Mapped[str] = mapped_column(String(16), default="PT15M")  # a provider's time to accept
    payment_wait: Mapped[str] = mapped_column(String(16), default="PT30M")  # the payer's time to pay
    confirm_within: Mapped[str] = mapped_column(String(16), default="P3D")  # then confirmed automatically
    complaint_days: Mapped[int] = mapped_column(default=3)  # working days to answer a complaint
    rating_threshold_tenths: Mapped[int] = mapped_column(default=30)  # flag providers below 3.0
    rating_min_count: Mapped[int] = mapped_column(default=3)  # ratings needed before flagging
    credit_months: Mapped[int] = mapped_column(default=12)  # how long an approved subsidy grants credit
    updated_by: Mapped[str] = mapped_column(String(64), default="huiju-init")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class Open311Client(Base):
    """A channel allowed to file service requests through Open311 (热线坐席, 自助终端, 城市 App):
    its API key is kept only as a SHA-256 digest."""

    __tablename__ = "open311_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(8))  # the key's first characters, to tell keys apart
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
