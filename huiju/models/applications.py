"""What a resident brings to a case besides the form: drafts, uploaded materials, ratings.

Uploaded files are stored outside the web root under a random name (see
:mod:`huiju.services.materials`); a :class:`Material` row keeps what was declared and what was
measured, the content hash included, so that a file can be checked and served only as a download.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.cases import Case
from huiju.models.items import Item
from huiju.models.residents import Resident
from huiju.models.users import User


class Draft(Base):
    """An application saved before submitting (草稿); only its owner sees it."""

    __tablename__ = "draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("huiju_user.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    # Set when the draft is an application on someone's behalf (代办).
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    agent_relation: Mapped[str | None] = mapped_column(String(32))
    form_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship()
    item: Mapped[Item] = relationship()
    applicant: Mapped[Resident | None] = relationship()


class Material(Base):
    """One uploaded file (申请材料): on a draft while applying, on a case once submitted.

    A file uploaded to answer a request for more material (补正) is *pending* (``pending_case_id``)
    until the answer is sent: kept for its uploader across a failed attempt, shown to them and
    removable, but part of no case file yet (officers see it once it is sent).
    """

    __tablename__ = "material"
    __table_args__ = (CheckConstraint("size >= 0", name="size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("draft.id", ondelete="SET NULL"), index=True)
    pending_case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))  # the item's material code, e.g. "id_card"
    round: Mapped[int] = mapped_column(Integer, default=0)  # 0: with the application; n: n-th 补正
    original_name: Mapped[str] = mapped_column(String(255))  # as the resident named it, cleaned
    content_type: Mapped[str] = mapped_column(String(100))  # detected from the content
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)  # random file name on disk
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case | None] = relationship(foreign_keys=[case_id])


class Rating(Base):
    """The resident's rating of a concluded case (好差评), once per case."""

    __tablename__ = "rating"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), unique=True)
    level: Mapped[int]  # 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_by: Mapped[str] = mapped_column(String(64))
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A bad rating (不满意 or worse) opens a follow-up task for the community (差评回访).
    follow_up_instance_id: Mapped[int | None] = mapped_column()

    case: Mapped[Case] = relationship()


#: Levels that open a follow-up task.
BAD_RATING_LEVELS = frozenset({1, 2})
