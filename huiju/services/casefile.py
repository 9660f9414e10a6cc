"""The case file (案卷) an officer reads: form, materials, identity, timeline, messages, diagram.

Every read goes through :func:`huiju.services.cases.get_case`, so a case outside the reader's
scope is "not found" here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.log import MessageLogEntry
from exchange.models import OutboxMessage
from huiju import idnumber
from huiju.errors import NotFoundError
from huiju.i18n import _
from huiju.models import FINAL, Case, CaseEvent, CaseStatus, Document, Material, Rating
from huiju.services import casefile_words as words
from huiju.services import worklist
from huiju.services.actors import Actor
from huiju.services.cases import get_case, instance_of, list_cases
from huiju.services.decisions import Opinion, opinion_chain
from huiju.services.diagram_words import in_words
from huiju.services.documents import documents_of
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus

#: The call that verifies an applicant's identity (公民信息系统 VerifyIdentity).
IDENTITY_CHECK = "citizen_info.verify_identity"


@dataclass(frozen=True)
class Identity:
    name: str
    id_number_masked: str
    birth_date: str
    phone: str
    community: str
    verified: bool | None  # None: not verified yet
    verification: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseFile:
    case: Case
    identity: Identity
    materials: list[Material]
    timeline: list[CaseEvent]
    outbox: list[OutboxMessage]
    message_log: list[MessageLogEntry]
    tasks: list[HumanTask]  # every human task of the case, oldest first
    current_steps: list[str]  # BPMN element ids where the case stands now
    incident: bool
    opinions: list[Opinion] = field(default_factory=list)  # the chain of opinions (审批意见)
    documents: list[Document] = field(default_factory=list)  # written documents (文书)
    #: What the officer reads, in words (see :mod:`huiju.services.casefile_words`).
    lines: list[words.Line] = field(default_factory=list)
    material_rows: list[words.MaterialRow] = field(default_factory=list)
    message_rows: list[words.MessageRow] = field(default_factory=list)
    outcome: words.Outcome | None = None
    #: Time left (committed, statutory); None once the case is concluded: its clock has stopped.
    time_left: tuple[worklist.TimeLeft, worklist.TimeLeft] | None = None
    #: The bad rating a follow-up task (差评回访) is about.
    rating: Rating | None = None
    current_step_names: list[str] = field(default_factory=list)


def _identity(case: Case, outbox: list[OutboxMessage]) -> Identity:
    replies = [m for m in outbox if m.operation == IDENTITY_CHECK and m.reply is not None]
    reply = replies[-1].reply if replies else None
    verified = None
    if isinstance(reply, dict):
        flag = reply.get("verified", reply.get("match"))
        verified = bool(flag) if flag is not None else None
    resident = case.applicant
    return Identity(
        name=resident.name,
        id_number_masked=idnumber.mask(resident.id_number),
        birth_date=resident.birth_date.isoformat(),
        phone=resident.phone or "",
        community=resident.community.name,
        verified=verified,
        verification=reply if isinstance(reply, dict) else {},
    )


def read_case_file(session: Session, actor: Actor, number: str, locale: str | None = None) -> CaseFile:
    case = get_case(session, actor, number)
    outbox = list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.case_number == case.number).order_by(OutboxMessage.id)
        )
    )
    log = list(
        session.scalars(
            select(MessageLogEntry).where(MessageLogEntry.case_number == case.number).order_by(MessageLogEntry.id)
        )
    )
    materials = list(
        session.scalars(select(Material).where(Material.case_id == case.id).order_by(Material.round, Material.id))
    )
    tasks = list(
        session.scalars(
            select(HumanTask).where(HumanTask.case_id == case.id).order_by(HumanTask.created_at, HumanTask.id)
        )
    )
    current = [t.step for t in tasks if t.status is HumanTaskStatus.READY]
    current += [str(m.reply_to.get("step")) for m in outbox if m.settled_at is None and m.reply_to.get("step")]
    instance = instance_of(session, case)
    follow_up = [t for t in tasks if t.status is HumanTaskStatus.READY and t.instance_id != case.process_instance_id]
    rating = session.scalars(select(Rating).where(Rating.case_id == case.id)).one_or_none() if follow_up else None
    names = {t.step: t.name for t in tasks}
    return CaseFile(
        case=case,
        identity=_identity(case, outbox),
        materials=materials,
        timeline=list(case.events),
        outbox=outbox,
        message_log=log,
        tasks=tasks,
        current_steps=sorted(set(current)),
        incident=instance is not None and instance.status is InstanceStatus.INCIDENT,
        opinions=opinion_chain(session, case, locale=locale),
        documents=documents_of(session, case),
        lines=words.officer_timeline(session, case, locale),
        material_rows=words.material_rows(case, materials, locale),
        message_rows=words.message_rows(outbox, log, locale),
        outcome=words.outcome_of(session, case, locale),
        time_left=None if case.status in FINAL else worklist.time_left_of(session, case),
        rating=rating,
        current_step_names=[names.get(s, "") for s in sorted(set(current)) if names.get(s)],
    )


def case_diagram(session: Session, actor: Actor, number: str, locale: str | None = None) -> str:
    """The BPMN XML of the version the case runs on, in the reader's words (see
    :func:`huiju.services.diagram_words.in_words`), for the diagram viewer."""
    case = get_case(session, actor, number)
    instance = instance_of(session, case)
    if instance is None:
        raise NotFoundError(_("case {number} has no process", number=number))
    sources = instance.definition.sources
    chosen = next((text for name, text in sorted(sources.items())
                   if name.endswith(".bpmn") and f'id="{instance.process_id}"' in text), None)  # fmt: skip
    if chosen is None:
        bpmn = [text for name, text in sorted(sources.items()) if name.endswith(".bpmn")]
        if not bpmn:
            raise NotFoundError(_("case {number} has no process", number=number))
        chosen = bpmn[0]
    return in_words(chosen, locale)


def case_material(session: Session, actor: Actor, number: str, material_id: int) -> Material:
    """A material of a case the actor may see (else not found)."""
    case = get_case(session, actor, number)
    material = session.scalars(
        select(Material).where(Material.id == material_id, Material.case_id == case.id)
    ).one_or_none()
    if material is None:
        raise NotFoundError(_("no material {material_id} in case {number}", material_id=material_id, number=number))
    return material


def case_document(session: Session, actor: Actor, number: str, document_id: int) -> Document:
    """A written document of a case the actor may see (else not found)."""
    from huiju.services.documents import get_document

    return get_document(session, actor, number, document_id)


def incident_cases(session: Session, actor: Actor, limit: int = 200) -> list[Case]:
    """Cases whose process stopped on a government system that failed after its retries."""
    return list_cases(session, actor, status=CaseStatus.INCIDENT.value, limit=limit)
