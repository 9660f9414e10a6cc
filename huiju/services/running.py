"""Running cases, for administrators (运行中的办件): search them, and suspend, resume, move or migrate
one, or every case of a version, each action audited (:mod:`huiju.services.audit`) and on
the case's timeline. The engine does the work (:mod:`workflows_bpmn.administration`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from huiju import idnumber
from huiju.calendar import CHINA
from huiju.db import Database
from huiju.errors import ConflictError, HuijuError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Case, CaseEvent, CaseStatus, Item, Org, Resident, Role
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.cases import get_case, visible_cases
from workflows_bpmn import administration
from workflows_bpmn.administration import MigrationCheck, Place
from workflows_bpmn.models import InstanceStatus, ProcessDefinition, ProcessInstance
from workflows_bpmn.runner import Engine

PER_PAGE = 50


def require_administrator(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators suspend, resume, move or migrate cases"))


# -- search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseQuery:
    """What an administrator looks for; every field may be empty."""

    number: str = ""
    applicant: str = ""  # a name (or its beginning), or a whole ID number
    item: str = ""  # an item code
    status: str = ""
    community: str = ""  # an office code
    submitted_from: date | None = None  # China days, both included
    submitted_to: date | None = None
    definition_id: int | None = None  # the process version the case runs on
    page: int = 1


@dataclass(frozen=True)
class FoundCase:
    case: Case
    id_number_masked: str
    process_id: str | None
    version: int | None
    instance_status: InstanceStatus | None


@dataclass(frozen=True)
class SearchPage:
    rows: list[FoundCase]
    total: int
    page: int
    pages: int


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CHINA)


def search_cases(session: Session, actor: Actor, query: CaseQuery, per_page: int = PER_PAGE) -> SearchPage:
    """Cases the actor may see that match every field given, newest first, a page at a time."""
    stmt = visible_cases(session, actor)
    if query.number.strip():
        stmt = stmt.where(Case.number.contains(query.number.strip().upper()))
    applicant = query.applicant.strip()
    if applicant:
        people = select(Resident.id)
        if applicant[:1].isdigit():
            people = people.where(Resident.id_number == idnumber.validate(applicant))
        else:
            people = people.where(Resident.name.startswith(applicant))
        stmt = stmt.where(Case.applicant_id.in_(people))
    if query.item:
        stmt = stmt.where(Case.item_id.in_(select(Item.id).where(Item.code == query.item)))
    if query.status:
        try:
            stmt = stmt.where(Case.status == CaseStatus(query.status))
        except ValueError as exc:
            raise InputError(_("unknown case status '{status}'", status=query.status), field="status") from exc
    if query.community:
        stmt = stmt.where(Case.community_id.in_(select(Org.id).where(Org.code == query.community)))
    if query.submitted_from and query.submitted_to and query.submitted_from > query.submitted_to:
        raise InputError(_("the first day comes after the last"), field="submitted_from")
    if query.submitted_from:
        stmt = stmt.where(Case.submitted_at >= _day_start(query.submitted_from))
    if query.submitted_to:
        stmt = stmt.where(Case.submitted_at < _day_start(query.submitted_to + timedelta(days=1)))
    if query.definition_id is not None:
        stmt = stmt.where(
            Case.process_instance_id.in_(
                select(ProcessInstance.id).where(ProcessInstance.definition_id == query.definition_id)
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(query.page, 1), pages)
    cases = list(
        session.scalars(
            stmt.options(selectinload(Case.item), selectinload(Case.applicant), selectinload(Case.community))
            .order_by(Case.submitted_at.desc(), Case.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    instances = {
        i.id: (i.process_id, version, i.status)
        for i, version in session.execute(
            select(ProcessInstance, ProcessDefinition.version)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.id.in_([c.process_instance_id for c in cases if c.process_instance_id]))
        )
    }
    rows = []
    for case in cases:
        pid, version, status = instances.get(case.process_instance_id or -1, (None, None, None))
        rows.append(FoundCase(case, idnumber.mask(case.applicant.id_number), pid, version, status))
    return SearchPage(rows, total, page, pages)


# -- one running case ---------------------------------------------------------------------------


@dataclass
class RunningCase:
    """A case as an administrator operates on it: where its process stands and where it could go."""

    case: Case
    instance: ProcessInstance
    definition: ProcessDefinition
    positions: list[Place] = field(default_factory=list)
    targets: list[Place] = field(default_factory=list)
    versions: list[ProcessDefinition] = field(default_factory=list)  # of the same process, for migration

    @property
    def suspended(self) -> bool:
        return self.instance.status is InstanceStatus.SUSPENDED

    @property
    def ended(self) -> bool:
        return self.instance.status is InstanceStatus.COMPLETED


def _instance(session: Session, case: Case) -> ProcessInstance:
    instance = session.get(ProcessInstance, case.process_instance_id) if case.process_instance_id else None
    if instance is None:
        raise NotFoundError(_("case {number} has no process", number=case.number))
    return instance


def running_case(session: Session, engine: Engine, actor: Actor, number: str) -> RunningCase:
    require_administrator(actor)
    case = get_case(session, actor, number)
    instance = _instance(session, case)
    found = RunningCase(case, instance, instance.definition)
    found.versions = list(
        session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id == instance.process_id)
            .order_by(ProcessDefinition.version)
        )
    )
    if not found.ended:
        workflow = engine.load(session, instance.id)
        found.positions = administration.positions(workflow)
        found.targets = administration.move_targets(workflow)
    return found


def _before(case: Case, instance: ProcessInstance) -> dict[str, Any]:
    return {"case_status": case.status.value, "process_status": instance.status.value,
            "definition_id": instance.definition_id}  # fmt: skip


def _audit(
    session: Session, actor: Actor, action: str, case: Case, before: dict[str, Any], detail: str, **after: Any
) -> None:
    session.flush()
    session.refresh(case)
    instance = _instance(session, case)
    audit.record(
        session, actor, action, target_kind="case", target=case.number, case_number=case.number,
        definition=f"{instance.process_id} v{instance.definition.version}", resident_id=case.applicant_id,
        before=before, after={**_before(case, instance), **after}, detail=detail,
    )  # fmt: skip


def suspend_case(session: Session, engine: Engine, actor: Actor, number: str, reason: str) -> Case:
    require_administrator(actor)
    case = get_case(session, actor, number)
    instance = _instance(session, case)
    before = _before(case, instance)
    administration.suspend(engine, session, instance.id, actor.username, reason, {"case_status": case.status.value})
    _audit(session, actor, "case.suspend", case, before, reason)
    return case


def resume_case(session: Session, engine: Engine, actor: Actor, number: str, reason: str) -> Case:
    require_administrator(actor)
    case = get_case(session, actor, number)
    instance = _instance(session, case)
    before = _before(case, instance)
    if case.status is CaseStatus.SUSPENDED:  # the status it had; the step moves it on from there
        case.status = _status_before_suspension(session, case)
    administration.resume(engine, session, instance.id, actor.username, reason)
    _audit(session, actor, "case.resume", case, before, reason)
    return case


def _status_before_suspension(session: Session, case: Case) -> CaseStatus:
    last = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "suspended")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()
    try:
        return CaseStatus(str((last.data or {}).get("case_status")) if last is not None else "")
    except ValueError:
        return CaseStatus.PROCESSING


def move_case(
    session: Session, engine: Engine, actor: Actor, number: str, to_step: str, reason: str,
    from_step: str | None = None,
) -> Case:  # fmt: skip
    require_administrator(actor)
    case = get_case(session, actor, number)
    instance = _instance(session, case)
    before = _before(case, instance)
    administration.move(engine, session, instance.id, actor.username, to_step=to_step, reason=reason,
                        from_step=from_step or None)  # fmt: skip
    _audit(session, actor, "case.move", case, {**before, "step": from_step}, reason, step=to_step)
    return case


def check_case_migration(
    session: Session, engine: Engine, actor: Actor, number: str, definition_id: int
) -> MigrationCheck:
    require_administrator(actor)
    case = get_case(session, actor, number)
    return administration.check_migration(engine, session, _instance(session, case).id, definition_id)


def migrate_case(session: Session, engine: Engine, actor: Actor, number: str, definition_id: int) -> int:
    """Migrate the case to that version (its number is returned), or refuse with every reason."""
    require_administrator(actor)
    case = get_case(session, actor, number)
    instance = _instance(session, case)
    before = _before(case, instance)
    administration.migrate(engine, session, instance.id, definition_id, actor.username)
    _audit(session, actor, "case.migrate", case, before, "")
    return _version(session, definition_id).version


# -- every case of a version ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """One running instance of the version: its case, and whether and why (not) it can move."""

    instance_id: int
    case_number: str | None
    check: MigrationCheck


def _version(session: Session, definition_id: int) -> ProcessDefinition:
    found = session.get(ProcessDefinition, definition_id)
    if found is None:
        raise NotFoundError(_("no process definition {definition_id}", definition_id=definition_id))
    return found


def version_pair(session: Session, from_id: int, to_id: int) -> tuple[ProcessDefinition, ProcessDefinition]:
    return _version(session, from_id), _version(session, to_id)


def migration_plan(session: Session, engine: Engine, actor: Actor, from_id: int, to_id: int) -> list[PlanRow]:
    """The dry run for every unfinished instance of one version: nothing is written."""
    require_administrator(actor)
    source, target = _version(session, from_id), _version(session, to_id)
    if source.process_id != target.process_id:
        raise InputError(_("both versions must be of one process"), field="to")
    instances = session.scalars(
        select(ProcessInstance)
        .where(ProcessInstance.definition_id == from_id, ProcessInstance.status != InstanceStatus.COMPLETED)
        .order_by(ProcessInstance.id)
    ).all()
    return [
        PlanRow(i.id, i.context.get("case_number"), administration.check_migration(engine, session, i.id, to_id))
        for i in instances
    ]


@dataclass
class MigrationReport:
    moved: list[str] = field(default_factory=list)  # case numbers (or "#instance")
    refused: list[tuple[str, list[Message]]] = field(default_factory=list)


def migrate_version(db: Database, engine: Engine, actor: Actor, from_id: int, to_id: int) -> MigrationReport:
    """Migrate every instance of a version that can move, each in a transaction of its own (one that
    cannot is left on its version, with the reasons); audited case by case."""
    require_administrator(actor)
    with db.sessions() as session:
        plan = migration_plan(session, engine, actor, from_id, to_id)
    report = MigrationReport()
    for row in plan:
        label = row.case_number or f"#{row.instance_id}"
        if not row.check.movable:
            report.refused.append((label, row.check.refusals))
            continue
        try:
            with db.transaction() as session:
                if row.case_number is not None:
                    migrate_case(session, engine, actor, row.case_number, to_id)
                else:
                    administration.migrate(engine, session, row.instance_id, to_id, actor.username)
            report.moved.append(label)
        except (ConflictError, HuijuError) as exc:
            found = exc.details.get("refusals")
            report.refused.append((label, list(found) if found else [_("{problem}", problem=exc.text)]))
    return report
