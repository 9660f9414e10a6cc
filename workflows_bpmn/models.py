"""Engine tables, apart from domain tables: deployed definitions, instances, human tasks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huiju import reference
from huiju.db import Base, UTCDateTime, utcnow


class DefinitionKind(enum.StrEnum):
    BPMN = "bpmn"  # a process: cases run on it
    DMN = "dmn"  # a decision table deployed on its own, called by processes (calledDecisionId)


class ProcessDefinition(Base):
    """One deployed version of a process (or of a decision table deployed on its own): its BPMN/DMN
    sources, their hash, a version number, and what it calls that was deployed apart from it."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("process_id", "version"), reference.table_info())  # steps' names are kept

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # {"file name": "xml text"} for every BPMN and DMN file the process needs.
    sources: Mapped[dict[str, str]] = mapped_column(JSON)
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[DefinitionKind] = mapped_column(
        Enum(DefinitionKind, native_enum=False, length=8), default=DefinitionKind.BPMN
    )
    # Processes and decisions deployed on their own that this version calls, resolved when it was
    # deployed (see workflows_bpmn.references): [{"kind", "ref", "element", "definition_id",
    # "version"}]. A running case calls exactly these, whatever is deployed later.
    references: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class InstanceStatus(enum.StrEnum):
    RUNNING = "running"  # waiting for a person, a timer or a government system
    INCIDENT = "incident"  # stopped until an officer retries it: see incident_kind and incident_detail
    COMPLETED = "completed"
    # Held by an administrator (中止): no timer fires, no call is sent, no task is decided until it is
    # resumed; suspended_from keeps the status it returns to.
    SUSPENDED = "suspended"


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_process_instance_timer", "status", "next_timer_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[InstanceStatus] = mapped_column(Enum(InstanceStatus, native_enum=False, length=16))
    outcome: Mapped[str | None] = mapped_column(String(64))
    # What the host told the engine about the instance (case id, community, street, applicant).
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The workflow state (see workflows_bpmn.serialization), compressed JSON: the task tree while it
    # runs, a summary once it has ended; its layout version beside it.
    serialized: Mapped[bytes] = mapped_column(LargeBinary)
    serializer_version: Mapped[str] = mapped_column(String(16))
    next_timer_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it is in incident: a kind (call_failed, step_failed, stuck; worded in huiju.labels) and the
    # detail (the failure as reported); cleared when it is retried.
    incident_kind: Mapped[str | None] = mapped_column(String(32))
    incident_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Optimistic locking: a stale writer fails instead of overwriting a newer step.
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    # While SUSPENDED: the status the instance had (running or incident), restored on resume.
    suspended_from: Mapped[str | None] = mapped_column(String(16))

    definition: Mapped[ProcessDefinition] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTaskStatus(enum.StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class HumanTask(Base):
    """A ready user task mirrored out of the serialized state, so that an inbox is one query."""

    __tablename__ = "human_task"
    # The inboxes (huiju.services.worklist), each read in the order of one index and never sorted:
    # scope (status, role, community or street), then the sort key (due, or received) and the id as
    # the last tie-breaker; the assignee last, so that "unclaimed or mine" is checked in the index.
    __table_args__ = (
        Index("ix_human_task_community_due", "status", "role", "community_id", "due_at", "created_at", "id",
              "assignee"),
        Index("ix_human_task_community_received", "status", "role", "community_id", "created_at", "id", "assignee"),
        Index("ix_human_task_street_due", "status", "role", "street_id", "due_at", "created_at", "id", "assignee"),
        Index("ix_human_task_street_received", "status", "role", "street_id", "created_at", "id", "assignee"),
        Index("ix_human_task_resident", "resident_id", "status"),
        # Administrators and integrators see every office's tasks.
        Index("ix_human_task_all_due", "status", "due_at", "created_at", "id"),
        Index("ix_human_task_all_received", "status", "created_at", "id"),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow's task UUID
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(index=True)
    step: Mapped[str] = mapped_column(String(100))  # BPMN element id
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    community_id: Mapped[int | None]
    street_id: Mapped[int | None]
    # For tasks of the applicant lane: only this resident may complete them.
    resident_id: Mapped[int | None]
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[HumanTaskStatus] = mapped_column(Enum(HumanTaskStatus, native_enum=False, length=16))
    decisions: Mapped[list[str]] = mapped_column(JSON, default=list)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(32))


class WaitingMessage(Base):
    """A message event an instance waits for, with the correlation values that select it.

    Mirrored from the serialized state after every step, so that a callback finds its instance
    with one indexed query instead of loading workflows.
    """

    __tablename__ = "waiting_message"
    __table_args__ = (Index("ix_waiting_message_lookup", "name", "correlation_key", "correlation_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    correlation_key: Mapped[str] = mapped_column(String(100))
    correlation_value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
