"""Accounts and roles. Every officer belongs to one organisation, which scopes what they see."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.orgs import Org
from huiju.models.residents import Resident
from huiju.passwords import hash_password, verify_password


class Role(enum.StrEnum):
    RESIDENT = "resident"  # 居民
    COMMUNITY_OFFICER = "community_officer"  # 社区专干
    STREET_REVIEWER = "street_reviewer"  # 街道审核
    ADMINISTRATOR = "administrator"
    INTEGRATOR = "integrator"
    PROVIDER = "provider"  # 服务提供商 (O2O): bound to one provider, see huiju.models.o2o.ProviderStaff
    OPERATOR = "operator"  # 平台运营商 (O2O): providers, dispatch, complaints, settlement


class User(Base):
    __tablename__ = "huiju_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    # Set when an administrator resets the password: the next sign-in must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org: Mapped[Org | None] = relationship()
    resident: Mapped[Resident | None] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)
