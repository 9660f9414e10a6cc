"""Cases (办件): submit, read, list, and keep a case in step with its process instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import jsonschema
from sqlalchemy import Table, bindparam, func, insert, literal, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from huiju import forms, idnumber
from huiju.calendar import WorkingCalendar
from huiju.db import count_up_and_reserve, insert_row, utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied, SchemaError
from huiju.i18n import _
from huiju.models import (
    FINAL,
    Case,
    CaseEvent,
    CaseNumberCounter,
    CaseStatus,
    Item,
    ItemFormVersion,
    Org,
    Resident,
    Role,
    User,
)
from huiju.services import audit, clock
from huiju.services.actors import Actor, community_ids_of_street, duty_phone
from huiju.services.catalogue_versions import current_form_version
from workflows_bpmn.mirror import StepResult, TimelineEntry
from workflows_bpmn.models import InstanceStatus, ProcessDefinition, ProcessInstance
from workflows_bpmn.runner import WITHDRAWN as WITHDRAWN_OUTCOME
from workflows_bpmn.runner import Engine

CASE_PREFIX = "HJ"
#: Context flag of a process that follows a case up (a bad rating's 差评回访) without owning it:
#: its steps go into the case's timeline, its status stays the case's own.
FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class Agency:
    """An application on someone's behalf (代办): who the agent is to the applicant, and the
    applicant's consent as recorded ({"method", "statement", ...})."""

    relation: str
    consent: dict[str, Any]


def get_item(session: Session, code: str) -> Item:
    item = session.scalars(select(Item).where(Item.code == code)).one_or_none()
    if item is None or not item.active:
        raise NotFoundError(_("unknown item '{code}'", code=code))
    return item


_LATEST_VERSION = (
    select(func.max(ProcessDefinition.version))
    .where(ProcessDefinition.process_id == Item.process_id)
    .correlate(Item)
    .scalar_subquery()
)
_ITEM_AND_PROCESS = (
    select(Item, ProcessDefinition.id, ProcessDefinition.name, ProcessDefinition.version, ItemFormVersion, Resident)
    .outerjoin(
        ProcessDefinition,
        (ProcessDefinition.process_id == Item.process_id) & (ProcessDefinition.version == _LATEST_VERSION),
    )
    .outerjoin(
        ItemFormVersion,
        (ItemFormVersion.item_id == Item.id) & (ItemFormVersion.version == func.coalesce(Item.form_version, 1)),
    )
    .outerjoin(Resident, Resident.id_number == bindparam("id_number"))  # the applicant, whatever the item
    .options(joinedload(Resident.community).joinedload(Org.parent))  # their community and street
    .where(Item.code == bindparam("code"))
)


@dataclass(frozen=True)
class _ToApplyFor:
    item: Item
    latest: tuple[int, str, int] | None  # the latest deployed version of its process: id, name, version
    form_version: ItemFormVersion | None  # the version of its form applications are made with, if kept
    applicant: Resident | None  # the resident registered with the ID number given, if any


def _item_to_apply_for(session: Session, code: str, id_number: str) -> _ToApplyFor:
    """The item (as :func:`get_item`), the latest deployed version of its process, its current form
    version and the applicant registered with ``id_number`` (a valid one), in one statement."""
    row = session.execute(_ITEM_AND_PROCESS, {"code": code, "id_number": id_number}).one_or_none()
    if row is None or not row[0].active:
        raise NotFoundError(_("unknown item '{code}'", code=code))
    item, definition_id, name, version, form_version, applicant = row
    latest = (definition_id, name, version) if definition_id is not None else None
    return _ToApplyFor(item, latest, form_version, applicant)


def list_items(session: Session) -> list[Item]:
    return list(session.scalars(select(Item).where(Item.active.is_(True)).order_by(Item.code)))


def _check_form(item: Item, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SchemaError(_("form data must be a JSON object"))
    validator = jsonschema.Draft202012Validator(item.form_schema)
    problems = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if problems:
        errors = {"/".join(str(p) for p in e.absolute_path) or "(form)": e.message for e in problems}
        worded = forms.problems(item.form_schema, data)  # by the fields' titles, in the reader's language
        if worded:
            text = _("the form is not filled in as it should be: {problem}", problem=next(iter(worded.values())))
        else:  # nothing a field's words say (a field the form does not have, say): the checker's own
            field, problem = next(iter(errors.items()))
            text = _("form data does not fit item '{item}': {field}: {problem}", item=item.code, field=field,
                     problem=problem)  # fmt: skip
        raise SchemaError(text, **errors).with_problems(worded)
    return data


def _next_number(session: Session, today: date) -> tuple[str, int]:
    """The next case number of a China day (办件编号 HJYYYYMMDDNNNNN), from the day's counter row
    (:func:`huiju.db.count_up`: no two submissions share a number, a rolled-back one gives it back),
    and the id its process instance is to have: the case row, written first, points to it."""
    day = f"{today:%Y%m%d}"
    counters, instances = cast(Table, CaseNumberCounter.__table__), cast(Table, ProcessInstance.__table__)
    number, instance_id = count_up_and_reserve(session, counters, day, instances)
    return f"{CASE_PREFIX}{day}{number:05d}", instance_id


def _contact_phone(form: dict[str, Any], applicant: Resident, agent: User | None) -> str:
    """Where the case's SMS go: the phone given with the application, else the applicant's, else the
    agent's (代办 for an older resident without a mobile). A case nobody can be told about is refused."""
    agent_phone = agent.resident.phone if agent is not None and agent.resident is not None else None
    phone = str(form.get("contact_phone") or applicant.phone or agent_phone or "")
    if not phone:
        raise InputError(
            _("there is no phone number to send the case's messages to: give a contact phone"), field="contact_phone"
        )
    return phone


def submit_case(
    session: Session,
    engine: Engine,
    actor: Actor,
    item_code: str,
    applicant_id_number: str,
    data: Any,
    *,
    agency: Agency | None = None,
) -> Case:
    """Check everything first, then create the case and start its process in one transaction.

    A resident applies for themselves, or with ``agency`` for another resident (代办).
    """
    try:
        id_number = idnumber.validate(applicant_id_number)
    except InputError:
        get_item(session, item_code)  # an unknown item is said first, as with a valid ID number
        raise
    found = _item_to_apply_for(session, item_code, id_number)
    item, latest, applicant = found.item, found.latest, found.applicant
    if applicant is None:
        raise NotFoundError(_("no resident registered with ID number {id_number}", id_number=idnumber.mask(id_number)))
    if actor.role not in (Role.RESIDENT, Role.COMMUNITY_OFFICER, Role.ADMINISTRATOR):
        # Residents apply online, community officers at the counter (窗口受理), administrators enter
        # paper applications in bulk; reviewers and integrators decide or connect, they do not apply.
        raise PermissionDenied(_("street reviewers and integrators do not submit applications"))
    agent: User | None = None
    if agency is not None:
        if actor.role not in (Role.RESIDENT, Role.COMMUNITY_OFFICER):
            raise PermissionDenied(_("only a resident or a community worker may apply on someone's behalf"))
        if actor.role is Role.RESIDENT and actor.resident_id == applicant.id:
            raise InputError(_("an application on someone's behalf names another resident as the applicant"))
        agent = session.scalars(select(User).where(User.username == actor.username)).one()
    elif actor.role is Role.RESIDENT and actor.resident_id != applicant.id:
        raise PermissionDenied(_("a resident may apply only for themselves"))
    if actor.role is Role.COMMUNITY_OFFICER and actor.org_id != applicant.community_id:
        raise PermissionDenied(_("the applicant lives in another community"))
    form = _check_form(item, data)
    form_version = found.form_version or current_form_version(session, item)
    phone = _contact_phone(form, applicant, agent)
    now = utcnow()
    today = clock.china_day(now)
    calendar = WorkingCalendar.load(session)
    deadlines = clock.compute(calendar, item, today)
    street = applicant.community.street
    number, instance_id = _next_number(session, today)
    case = Case(
        number=number,
        process_instance_id=instance_id,
        item=item,
        applicant=applicant,
        community_id=applicant.community_id,
        status=CaseStatus.SUBMITTED,
        form_data=form,
        submitted_by=actor.username,
        submitted_at=now,
        agent=agent,
        agent_relation=agency.relation if agency else None,
        consent=agency.consent if agency else None,
        form_version=form_version,
    )
    clock.apply(case, deadlines)
    insert_row(session, case)  # one INSERT, not a flush of the unit of work
    engine.start(
        session,
        item.process_id,
        data={
            "case_number": case.number,
            "item_code": item.code,
            "item_name": item.name,
            "responsible_level": item.responsible_level.value,
            "submitted_on": today.isoformat(),
            "applicant": {
                "id_number": applicant.id_number,
                "name": applicant.name,
                "phone": phone,
                "community_code": applicant.community.code,
            },
            "form": form,
            "limits": {"supplement_wait": item.supplement_wait},
            "deadlines": clock.process_data(calendar, deadlines),
            "officers": {  # reminders and escalations of the community's steps, and of the street's
                "duty_phone": duty_phone(session, applicant.community_id),
                "street_duty_phone": duty_phone(session, street.id if street else applicant.community_id),
            },
        },
        context={
            "case_id": case.id,
            "case_number": case.number,
            "community_id": applicant.community_id,
            "street_id": street.id if street else None,
            "applicant_resident_id": applicant.id,
            "due_at": clock.due_at(deadlines.committed.due).isoformat(),
            "due_provisional": deadlines.provisional,
            "actor": actor.username,
        },
        actor=actor.username,
        timeline=[TimelineEntry("submitted", actor.username, detail=item.name)],
        latest=latest,
        instance_id=instance_id,
    )
    if actor.role is not Role.RESIDENT:  # an officer applying at the counter, for the resident
        audit.record_case(session, actor, "case.submit", case, after={"item": item.code})
    return case


CASES = cast(Table, Case.__table__)
EVENTS = cast(Table, CaseEvent.__table__)
# Statements built once: building one costs more than running it (its cache key, its compilation).
_ADD_EVENTS = insert(EVENTS)
_SET_STATUS = (
    update(CASES)
    .where(CASES.c.id == bindparam("case_id"))
    .values(status=bindparam("new_status"), updated_at=bindparam("now"))
)
_CONCLUDE = (
    update(CASES)
    .where(CASES.c.id == bindparam("case_id"))
    .values(
        status=bindparam("new_status"),
        outcome=bindparam("new_outcome"),
        updated_at=bindparam("now"),
        concluded_at=func.coalesce(CASES.c.concluded_at, bindparam("now")),
    )  # fmt: skip
)
_SUBMITTED = literal(CaseStatus.SUBMITTED, CASES.c.status.type)
_STILL_SUBMITTED = (  # the acknowledgement SMS (受理回执) went out: a submitted case stays submitted
    update(CASES)
    .where(CASES.c.id == bindparam("case_id"))
    .values(
        status=sql_case(
            (CASES.c.status == _SUBMITTED, _SUBMITTED), else_=literal(CaseStatus.PROCESSING, CASES.c.status.type)
        ),
        updated_at=bindparam("now"),
    )
)


#: The step note (:attr:`workflows_bpmn.mirror.StepResult.notes`) of the case's status as written.
CASE_STATUS_NOTE = "case_status"


def on_step(session: Session, result: StepResult) -> None:
    """Engine listener: write the step into the case's timeline and status (same transaction).

    The timeline entries go in with one statement. The case is changed where it is: on the
    service's own object when the session holds it (one UPDATE at flush, and the service reads
    what it wrote), else by one UPDATE statement, without reading the case first — and not at all
    when the step leaves its status as the previous step of this process set it (known from the
    step's notes, carried with the cached workflow; only this listener sets a case's status). The
    case's ``updated_at`` is when its status last changed; the timeline dates every step.
    """
    instance = result.instance
    case_id = instance.context.get("case_id")
    if case_id is None:
        return
    held: Case | None = session.identity_map.get(identity_key(Case, case_id))  # type: ignore[assignment]
    now = utcnow()
    if result.timeline:
        session.flush()  # what the service added to the timeline before the step comes first
        session.connection().execute(
            _ADD_EVENTS,
            [
                {"case_id": case_id, "at": now, "kind": e.kind, "step": e.step, "step_name": e.step_name,
                 "actor": e.actor, "system": e.system, "detail": e.detail, "data": e.data}
                for e in result.timeline
            ],
        )  # fmt: skip
        if held is not None:
            session.expire(held, ["events"])
    if instance.context.get(FOLLOW_UP):
        return  # another process about the case: its timeline, never its status
    status, outcome = _case_status(result)
    pauses = [t for t in result.ready_tasks if t.properties.get("pauses_clock") == "true"]
    if pauses and held is None:
        held = session.get(Case, case_id)
    notes = result.notes
    if held is not None:
        if status is None:
            status = CaseStatus.SUBMITTED if held.status is CaseStatus.SUBMITTED else CaseStatus.PROCESSING
        if held.status is not status:
            _write_status(session, held, status, outcome, now)
        elif status in FINAL:
            held.outcome, held.concluded_at = outcome, held.concluded_at or now
        for task in pauses:
            clock.pause(held, now, task.step)
        notes[CASE_STATUS_NOTE] = status.value
        return
    noted = notes.get(CASE_STATUS_NOTE)
    if status is not None and status not in FINAL and noted == status.value:
        return  # the case has this status already
    if status is None and noted is not None and noted != CaseStatus.SUBMITTED.value:
        return  # past "submitted" already: an acknowledgement by SMS leaves the status as it is
    notes[CASE_STATUS_NOTE] = status.value if status is not None else None
    params = {"case_id": case_id, "now": now, "new_status": status, "new_outcome": outcome}
    statement = _STILL_SUBMITTED if status is None else _CONCLUDE if status in FINAL else _SET_STATUS
    session.connection().execute(statement, params)


def _write_status(session: Session, held: Case, status: CaseStatus, outcome: str | None, now: datetime) -> None:
    """Write a held case's new status with one prepared UPDATE and record it on the object as
    written: the object reads what was written, and the commit's flush has nothing of it to do
    (the unit of work would weigh every relationship of a case for these two columns)."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status in FINAL:
        values.update(outcome=outcome, concluded_at=held.concluded_at or now)
    params = {"case_id": held.id, "now": now, "new_status": status, "new_outcome": outcome}
    session.connection().execute(_CONCLUDE if status in FINAL else _SET_STATUS, params)
    for key, value in values.items():
        set_committed_value(held, key, value)


def _case_status(result: StepResult) -> tuple[CaseStatus | None, str | None]:
    """The case's status after a step and, if it ended, its outcome; None for "submitted if it still
    is, else processing" (the step only acknowledged the application by SMS)."""
    instance = result.instance
    if instance.status is InstanceStatus.COMPLETED:
        if instance.outcome == WITHDRAWN_OUTCOME:
            return CaseStatus.WITHDRAWN, WITHDRAWN_OUTCOME
        return CaseStatus.CONCLUDED, instance.outcome
    if instance.status is InstanceStatus.INCIDENT:
        return CaseStatus.INCIDENT, None
    if instance.status is InstanceStatus.SUSPENDED:
        return CaseStatus.SUSPENDED, None
    if result.waiting_status:
        return CaseStatus(result.waiting_status), None
    if result.messages and all(m.system == "citizen_info" for m in result.messages):
        return CaseStatus.VERIFYING, None
    if result.messages and all(m.system == "sms" for m in result.messages):
        return None, None
    return CaseStatus.PROCESSING, None


def _visible(session: Session, actor: Actor) -> Any:
    stmt = select(Case)
    if actor.sees_everything:
        return stmt
    if actor.role is Role.RESIDENT:
        # Their own cases, and those they applied for on someone's behalf (代办).
        agent_ids = select(User.id).where(User.username == actor.username).scalar_subquery()
        return stmt.where(or_(Case.applicant_id == (actor.resident_id or -1), Case.agent_user_id == agent_ids))
    if actor.role is Role.COMMUNITY_OFFICER:
        return stmt.where(Case.community_id == actor.org_id)
    if actor.role is Role.STREET_REVIEWER and actor.org_id is not None:
        return stmt.where(Case.community_id.in_(community_ids_of_street(session, actor.org_id)))
    return stmt.where(Case.id == -1)


def visible_cases(session: Session, actor: Actor) -> Any:
    """A ``select(Case)`` limited to the cases the actor may see (for reports that filter further)."""
    return _visible(session, actor)


#: What a case's pages and lists name beside it, read in the case's statement.
_NAMED_WITH = (joinedload(Case.item), joinedload(Case.community))


def get_case(session: Session, actor: Actor, number: str) -> Case:
    """A case the actor may see; any other case answers 'not found', so that nothing leaks. Its item
    and community (which every page of a case names) are read with it."""
    case = session.scalars(_visible(session, actor).where(Case.number == number).options(*_NAMED_WITH)).one_or_none()
    if case is None:
        raise NotFoundError(_("no case {number}", number=number))
    return case


def list_cases(
    session: Session, actor: Actor, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Case]:
    stmt = _visible(session, actor)
    if status:
        try:
            stmt = stmt.where(Case.status == CaseStatus(status))
        except ValueError as exc:
            raise InputError(_("unknown case status '{status}'", status=status)) from exc
    # The item in a statement of its own: joined, its JSON columns would be decoded once per row.
    stmt = stmt.options(selectinload(Case.item)).order_by(Case.id.desc()).limit(min(limit, 500)).offset(offset)
    return list(session.scalars(stmt))


def instance_of(session: Session, case: Case) -> ProcessInstance | None:
    return session.get(ProcessInstance, case.process_instance_id) if case.process_instance_id else None


def retry_incident(session: Session, engine: Engine, actor: Actor, number: str) -> list[str]:
    case = get_case(session, actor, number)
    if actor.role not in (Role.COMMUNITY_OFFICER, Role.STREET_REVIEWER, Role.INTEGRATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only officers and integrators may retry an incident"))
    if case.process_instance_id is None:
        raise InputError(_("case {number} has no process", number=number))
    instance = session.get(ProcessInstance, case.process_instance_id)
    if instance is None or instance.status is not InstanceStatus.INCIDENT:
        # Said of the case the person named, not of the engine's instance number.
        raise ConflictError(_("case {number} is not held up by a system fault: nothing to send again", number=number))
    audit.record_case(session, actor, "case.retry", case, before={"status": case.status.value})
    return engine.retry_incident(session, case.process_instance_id, actor.username)
