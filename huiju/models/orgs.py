"""The organisation tree: district (区) → street office (街道) → community (社区)."""

from __future__ import annotations

import enum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju.db import Base


class OrgLevel(enum.StrEnum):
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"


_PARENT_LEVEL = {OrgLevel.STREET: OrgLevel.DISTRICT, OrgLevel.COMMUNITY: OrgLevel.STREET}


class Org(Base):
    __tablename__ = "org"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[OrgLevel] = mapped_column(Enum(OrgLevel, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"), index=True)
    # The office's duty mobile (值班手机): reminders and escalations of its cases are sent there.
    duty_phone: Mapped[str | None] = mapped_column(String(20))
    # The office's public service phone (服务电话), as residents are told to call it.
    service_phone: Mapped[str | None] = mapped_column(String(20))
    # Where residents go: the service centre's address (办公地址), printed on written documents.
    address: Mapped[str | None] = mapped_column(String(200))

    parent: Mapped[Org | None] = relationship(remote_side=[id])

    def check_parent(self) -> None:
        expected = _PARENT_LEVEL.get(self.level)
        actual = self.parent.level if self.parent else None
        if expected != actual:
            raise ValueError(f"a {self.level} must sit under a {expected}, not {actual}")

    @property
    def street(self) -> Org | None:
        if self.level is OrgLevel.STREET:
            return self
        if self.level is OrgLevel.COMMUNITY:
            return self.parent
        return None
