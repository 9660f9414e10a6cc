"""Community services O2O (社区服务 O2O): providers, what they offer, where and when, and the family
links through which a relative living elsewhere orders for an elderly parent.

Money is always an integer number of fen (分); a price is never a float.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.orgs import Org
from huiju.models.residents import Resident
from huiju.models.users import User


class ServiceCategory(enum.StrEnum):
    """What residents browse services by (服务类别)."""

    HOME_CARE = "home_care"  # 居家照护：上门探访、生活照料
    MEAL_DELIVERY = "meal_delivery"  # 助餐送餐
    BATHING = "bathing"  # 助浴
    HEALTH_CHECK = "health_check"  # 健康检查
    HOUSEKEEPING = "housekeeping"  # 家政保洁
    REPAIR = "repair"  # 维修
    PROPERTY = "property"  # 物业服务


class ProviderKind(enum.StrEnum):
    COMPANY = "company"  # 服务企业
    PROPERTY = "property"  # 物业公司
    NONPROFIT = "nonprofit"  # 社会组织（养老驿站）


class ProviderStatus(enum.StrEnum):
    ACTIVE = "active"  # 正常
    SUSPENDED = "suspended"  # 暂停接单


class ServiceUnit(enum.StrEnum):
    VISIT = "visit"  # 次
    MEAL = "meal"  # 份
    HOUR = "hour"  # 小时


class Provider(Base):
    """A service provider (服务提供商), the property company (物业) included, onboarded by the operator."""

    __tablename__ = "o2o_provider"
    __table_args__ = (CheckConstraint("fee_rate_bp BETWEEN 0 AND 10000", name="fee_rate_bp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[ProviderKind] = mapped_column(Enum(ProviderKind, native_enum=False, length=16))
    # 统一社会信用代码 (GB 32100), checked when the operator onboards the provider.
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    contact_name: Mapped[str] = mapped_column(String(50))
    # Where offers are announced by SMS (the provider's dispatch phone).
    phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[ProviderStatus] = mapped_column(Enum(ProviderStatus, native_enum=False, length=16))
    suspended_reason: Mapped[str] = mapped_column(Text, default="")
    # The platform's fee on the provider's orders, in basis points (万分之): 500 = 5 %.
    fee_rate_bp: Mapped[int] = mapped_column(default=500)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    areas: Mapped[list[ProviderArea]] = relationship(back_populates="provider", cascade="all, delete-orphan")
    services: Mapped[list[Service]] = relationship(back_populates="provider", order_by="Service.id")


class ProviderArea(Base):
    """A community a provider serves (服务区域)."""

    __tablename__ = "o2o_provider_area"
    __table_args__ = (UniqueConstraint("provider_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("o2o_provider.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)

    provider: Mapped[Provider] = relationship(back_populates="areas")
    community: Mapped[Org] = relationship()


class ProviderStaff(Base):
    """An account of role ``provider`` and the one provider it works for."""

    __tablename__ = "o2o_provider_staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("huiju_user.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("o2o_provider.id"), index=True)

    user: Mapped[User] = relationship()
    provider: Mapped[Provider] = relationship()


class Service(Base):
    """One service a provider offers (服务项目), at a price in fen per unit."""

    __tablename__ = "o2o_service"
    __table_args__ = (
        CheckConstraint("price_fen > 0", name="price_fen"),
        CheckConstraint("duration_minutes > 0", name="duration_minutes"),
        Index("ix_o2o_service_category", "category", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("o2o_provider.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[ServiceCategory] = mapped_column(Enum(ServiceCategory, native_enum=False, length=32))
    price_fen: Mapped[int]
    unit: Mapped[ServiceUnit] = mapped_column(Enum(ServiceUnit, native_enum=False, length=16))
    duration_minutes: Mapped[int] = mapped_column(default=60)
    description: Mapped[str] = mapped_column(Text, default="")
    # Whether the elderly-care service credit (服务券) may pay for it (home care yes, a repair no).
    credit_eligible: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)

    provider: Mapped[Provider] = relationship(back_populates="services")

    @validates("price_fen")
    def _check_price(self, _key: str, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError("a price is a positive whole number of fen")
        return value


class TimeSlot(Base):
    """A time a service can be booked for (服务时段), with room for ``capacity`` orders."""

    __tablename__ = "o2o_slot"
    __table_args__ = (
        UniqueConstraint("service_id", "starts_at"),
        CheckConstraint("capacity > 0", name="capacity"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked"),
        CheckConstraint("ends_at > starts_at", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("o2o_service.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(default=1)
    booked: Mapped[int] = mapped_column(default=0)

    service: Mapped[Service] = relationship()


class LinkStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the parent's consent (the SMS code)
    ACTIVE = "active"
    REVOKED = "revoked"


class FamilyLink(Base):
    """A family member's account linked to an elderly parent (亲属绑定), with the parent's consent.

    The consent is an SMS code sent to the parent's phone on record and typed back by the family
    member (``sms_code``), or recorded by a community officer at the service centre (``service_centre``).
    """

    __tablename__ = "o2o_family_link"
    __table_args__ = (UniqueConstraint("user_id", "parent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("huiju_user.id"), index=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    relation: Mapped[str] = mapped_column(String(16))  # child, spouse, relative
    status: Mapped[LinkStatus] = mapped_column(Enum(LinkStatus, native_enum=False, length=16))
    method: Mapped[str | None] = mapped_column(String(16))  # sms_code, service_centre
    code_mac: Mapped[str | None] = mapped_column(String(64))  # HMAC of the code sent, never the code
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()
    parent: Mapped[Resident] = relationship()
