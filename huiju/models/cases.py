"""Cases (办件) and their timeline.

A case refers to a process instance by id; the serialized workflow lives in the engine's tables.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju.db import Base, UTCDateTime, utcnow
from huiju.models.items import Item, ItemFormVersion
from huiju.models.orgs import Org
from huiju.models.residents import Resident
from huiju.models.users import User


class CaseStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 已提交
    VERIFYING = "verifying"  # 核验中
    INTAKE = "intake"  # 待受理
    REVIEW = "review"  # 社区审核中 (after acceptance, and co-review 加签)
    ANSWERING = "answering"  # 待答复 (a service request, 诉求, waiting for the officer's answer)
    AWAITING_SUPPLEMENT = "awaiting_supplement"  # 待补正
    STREET_REVIEW = "street_review"  # 街道审核中
    PROCESSING = "processing"  # 办理中 (a government system is being called)
    INCIDENT = "incident"  # 异常 (a government system failed after its retries)
    SUSPENDED = "suspended"  # 已中止 (held by an administrator; resumed where it stood)
    CONCLUDED = "concluded"  # 已办结
    WITHDRAWN = "withdrawn"  # 已撤回 (by the resident, before acceptance)


#: Statuses in which the resident may still withdraw: nothing has been accepted yet.
WITHDRAWABLE = frozenset(
    {CaseStatus.SUBMITTED, CaseStatus.VERIFYING, CaseStatus.INTAKE, CaseStatus.AWAITING_SUPPLEMENT}
)
#: Statuses that end a case.
FINAL = frozenset({CaseStatus.CONCLUDED, CaseStatus.WITHDRAWN})


class Case(Base):
    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_community_status", "community_id", "status"),
        # /metrics counts cases by status and outcome from this index alone.
        Index("ix_case_status_outcome", "status", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    status: Mapped[CaseStatus] = mapped_column(Enum(CaseStatus, native_enum=False, length=32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    form_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    process_instance_id: Mapped[int | None] = mapped_column(index=True)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 代办: who applied on the applicant's behalf (a relative or a community worker), and the
    # applicant's consent as recorded: {"method", "statement", "material_id"?, "recorded_at", "by"}.
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("huiju_user.id"), index=True)
    agent_relation: Mapped[str | None] = mapped_column(String(32))
    consent: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Time limits (时限), as dates in China: the committed (承诺) and statutory (法定) days the case
    # is due, pushed back by every suspension (补正 wait); provisional while a year's schedule is unknown.
    committed_due: Mapped[date | None] = mapped_column(Date)
    statutory_due: Mapped[date | None] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(default=False)
    clock_paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_days: Mapped[int] = mapped_column(default=0)  # in the item's limit unit
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The version of the item's form the case was submitted with (its schema reads its form data).
    form_version_id: Mapped[int | None] = mapped_column(ForeignKey("item_form_version.id"))

    item: Mapped[Item] = relationship()
    form_version: Mapped[ItemFormVersion | None] = relationship()
    applicant: Mapped[Resident] = relationship()
    community: Mapped[Org] = relationship()
    agent: Mapped[User | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )

    @property
    def form_schema(self) -> dict[str, Any]:
        """The JSON Schema the case's form data was submitted under (its item's, if it predates versions)."""
        return self.form_version.form_schema if self.form_version is not None else self.item.form_schema


class CaseEvent(Base):
    """One line of a case's timeline: every step, who, when, which system was called."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # submitted, task_ready, task_completed, service_*, ...
    step: Mapped[str | None] = mapped_column(String(100))  # BPMN element id
    step_name: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system"
    system: Mapped[str | None] = mapped_column(String(32))  # government system called, if any
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class CaseNumberCounter(Base):
    """The last case number given out on a China day: case numbers (办件编号) count per day, and the
    day's row is incremented in the transaction that submits a case (never ``count + 1``)."""

    __tablename__ = "case_number_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD, China time
    last: Mapped[int]
