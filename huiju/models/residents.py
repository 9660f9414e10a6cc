"""Residents (居民) known to Huiju."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from huiju import idnumber
from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.orgs import Org


class Resident(Base):
    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[date] = mapped_column(Date)
    community_id: Mapped[int] = mapped_column(ForeignKey("org.id"), index=True)
    # As the community office's roster (居民信息) records them; see huiju.services.roster.
    address: Mapped[str | None] = mapped_column(String(200))
    household: Mapped[str | None] = mapped_column(String(32))  # household number (户号)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, onupdate=utcnow)

    community: Mapped[Org] = relationship()

    @validates("id_number")
    def _check_id_number(self, _key: str, value: str) -> str:
        # GB 11643 check digit, birth date and region: refused before anything is stored.
        return idnumber.validate(value)
