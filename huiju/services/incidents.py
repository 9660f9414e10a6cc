"""Incidents (异常): process instances stopped until someone acts, each with its reason.

An instance is put in incident by the engine when a call to a government system failed for good
and nothing in the model caught it (``call_failed``), when a step cannot be taken (``step_failed``:
a model error, a value the model cannot take), or when nothing can move it on any more
(``stuck``: no ready task, no pending call, no timer or message awaited). The kinds are worded in
:mod:`huiju.labels`; the detail is the failure as it was reported. The incidents page lists them,
``/healthz`` and the metrics count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huiju.models import Case
from huiju.services.actors import Actor
from huiju.services.cases import visible_cases
from workflows_bpmn.models import InstanceStatus, ProcessInstance

#: The kind of an incident recorded before incidents carried one.
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Incident:
    instance_id: int
    process_id: str
    kind: str  # call_failed, step_failed, stuck (see huiju.labels), or unknown
    detail: str
    since: datetime  # when the instance stopped
    case: Case | None  # the case the instance runs, if any


def list_incidents(session: Session, actor: Actor, *, limit: int = 200) -> list[Incident]:
    """Instances in incident that the actor may see (those of the cases they see), newest first."""
    cases = visible_cases(session, actor).subquery()
    stmt = (
        select(ProcessInstance, Case)
        .join(cases, cases.c.process_instance_id == ProcessInstance.id)
        .join(Case, Case.id == cases.c.id)
        .where(ProcessInstance.status == InstanceStatus.INCIDENT)
        .order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())
        .limit(min(limit, 500))
    )
    if actor.sees_everything:  # instances that run no case of their own too
        stmt = (
            select(ProcessInstance, Case)
            .outerjoin(Case, Case.process_instance_id == ProcessInstance.id)
            .where(ProcessInstance.status == InstanceStatus.INCIDENT)
            .order_by(ProcessInstance.updated_at.desc(), ProcessInstance.id.desc())
            .limit(min(limit, 500))
        )
    return [
        Incident(
            instance.id,
            instance.process_id,
            instance.incident_kind or UNKNOWN,
            instance.incident_detail or "",
            instance.updated_at,
            case,
        )  # fmt: skip
        for instance, case in session.execute(stmt).all()
    ]


def count_incidents(session: Session) -> dict[str, int]:
    """How many instances are in incident, by kind (every kind present; none when all is well)."""
    kind = func.coalesce(ProcessInstance.incident_kind, UNKNOWN)
    rows = session.execute(
        select(kind, func.count()).where(ProcessInstance.status == InstanceStatus.INCIDENT).group_by(kind)
    )
    return {str(k): int(n) for k, n in rows}
