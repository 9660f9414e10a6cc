"""Human tasks: the inbox of an actor, claiming, releasing and transferring (转办) a task, and
completing it with a decision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.labels import standard_opinion
from huiju.models import Case, CaseEvent, Role, User
from huiju.services import audit, clock
from huiju.services.actors import EVERY_TASK_ROLES, Actor
from huiju.services.documents import CASE_PARTIES
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import HumanTask, HumanTaskStatus, ProcessInstance
from workflows_bpmn.runner import Engine

#: Decisions that cannot be taken without saying why (or what is missing).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "refuse": ("reason",),
    "deny": ("reason",),
    "close": ("reason",),
    "supplement": ("missing_materials",),
    "return": ("to_step", "comment"),
    "co_review": ("co_reviewer",),
    "answer": ("answer",),
}


def scope_tasks(stmt: Any, actor: Actor, *, any_assignee: bool = False) -> Any:
    """Only the tasks ``actor`` may see: a community officer those of their community, a street
    reviewer those of their street, a resident their own (each unclaimed or held by them, unless
    ``any_assignee``); administrators and integrators every task. The inbox indexes of
    ``human_task`` begin with exactly these columns."""
    return _scoped(stmt, actor.role, actor.org_id, actor.resident_id or -1, actor.username, any_assignee=any_assignee)


def _scoped(stmt: Any, role: Role, org_id: Any, resident_id: Any, username: Any, *, any_assignee: bool) -> Any:
    """:func:`scope_tasks` for an actor of ``role`` whose office, resident id and user name are
    given as values or as bound parameters (for a statement built once per role)."""
    if role in EVERY_TASK_ROLES:
        return stmt
    if role in (Role.PROVIDER, Role.OPERATOR):
        # Their steps of O2O orders are taken in their own pages and API (huiju.services.o2o).
        return stmt.where(HumanTask.id.is_(None))
    stmt = stmt.where(HumanTask.role == role.value)
    if role is Role.COMMUNITY_OFFICER:
        stmt = stmt.where(HumanTask.community_id == org_id)
    elif role is Role.STREET_REVIEWER:
        stmt = stmt.where(HumanTask.street_id == org_id)
    elif role is Role.RESIDENT:
        stmt = stmt.where(HumanTask.resident_id == resident_id)
    if any_assignee:
        return stmt
    # "Unclaimed or mine", written so that it is checked on the inbox index's last column: as
    # "assignee IS NULL OR assignee = ?" a planner may instead read every unclaimed task of every
    # office through the assignee index (SQLite does once it has statistics).
    return stmt.where(func.coalesce(HumanTask.assignee, "").in_(["", username]))


def inbox(session: Session, actor: Actor, *, include_done: bool = False, limit: int = 200) -> list[HumanTask]:
    """At most ``limit`` of the actor's tasks, soonest due first (pages, filters and counts:
    :func:`huiju.services.worklist.inbox_page`)."""
    stmt = scope_tasks(select(HumanTask), actor)
    if not include_done:
        stmt = stmt.where(HumanTask.status == HumanTaskStatus.READY)
    return list(session.scalars(stmt.order_by(HumanTask.due_at, HumanTask.created_at).limit(limit)))


def get_task(session: Session, actor: Actor, task_id: str) -> HumanTask:
    """A task the actor may see, by its id or (for people typing it) a unique prefix of 8+ characters."""
    stmt = scope_tasks(select(HumanTask), actor)
    if 8 <= len(task_id) < 36:
        found = list(session.scalars(stmt.where(HumanTask.id.startswith(task_id, autoescape=True)).limit(2)))
        if len(found) > 1:
            raise InputError(_("task id prefix '{prefix}' is ambiguous; give more characters", prefix=task_id))
        task = found[0] if found else None
    else:
        task = session.scalars(stmt.where(HumanTask.id == task_id)).one_or_none()
    if task is None:
        raise NotFoundError(_("no task {task_id}", task_id=task_id))
    return task


#: Longest reason kept with a transfer.
MAX_REASON = 500


def _held_task(session: Session, actor: Actor, task_id: str) -> HumanTask:
    """A ready task of the actor's role and organisation, whoever holds it (for claim and transfer)."""
    if actor.role not in (Role.COMMUNITY_OFFICER, Role.STREET_REVIEWER):
        raise PermissionDenied(_("only community officers and street reviewers take tasks"))
    stmt = scope_tasks(select(HumanTask), actor, any_assignee=True)
    task = session.scalars(stmt.where(HumanTask.id == task_id)).first()
    if task is None:
        raise NotFoundError(_("no task {task_id}", task_id=task_id))
    if task.status is not HumanTaskStatus.READY:
        raise ConflictError(_("task {task_id} is already {status}", task_id=task_id, status=task.status.value))
    return task


#: The audit action of each task event an officer causes.
_AUDITED = {"task_claimed": "task.claim", "task_released": "task.release", "task_transferred": "task.transfer"}


def _log(
    session: Session, task: HumanTask, kind: str, actor: Actor, detail: str, held: str | None, **data: Any
) -> None:
    """The task's event on its case's timeline, and in the audit trail who ``held`` it before and after."""
    if kind in _AUDITED:
        audit.record_task(session, actor, _AUDITED[kind], task, before={"assignee": held},
                          after={"assignee": task.assignee, **data})  # fmt: skip
    if task.case_id is not None:
        session.add(
            CaseEvent(case_id=task.case_id, kind=kind, step=task.step, step_name=task.name,
                      actor=actor.username, detail=detail, data={"task_id": task.id, **data})
        )  # fmt: skip


def _set_assignee(session: Session, task: HumanTask, expected: str | None, new: str | None) -> None:
    """Compare and set: of two officers claiming at once, the second finds the task taken."""
    cond = HumanTask.assignee.is_(None) if expected is None else HumanTask.assignee == expected
    done = session.execute(
        update(HumanTask)
        .where(HumanTask.id == task.id, HumanTask.status == HumanTaskStatus.READY, cond)
        .values(assignee=new)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        session.refresh(task)
        raise ConflictError(
            _("task {task_id} was claimed by {user} in the meantime", task_id=task.id, user=task.assignee or "-")
        )
    session.refresh(task)


def claim_task(session: Session, actor: Actor, task_id: str) -> HumanTask:
    """Take a ready task of one's role and community (street) so that nobody else works on it."""
    task = _held_task(session, actor, task_id)
    if task.assignee == actor.username:
        raise ConflictError(_("you already hold task {task_id}", task_id=task.id))
    if task.assignee is not None:
        raise ConflictError(_("task {task_id} is already claimed by {user}", task_id=task.id, user=task.assignee))
    _set_assignee(session, task, None, actor.username)
    _log(session, task, "task_claimed", actor, actor.username, None)
    return task


def _check_not_named(task: HumanTask) -> None:
    """A step whose officer the process names (加签) stays with that officer: no release, no transfer."""
    if task.properties.get("assignee_from"):
        raise ConflictError(
            _("task {task_id} was named for {user} by the process and stays theirs", task_id=task.id,
              user=task.assignee or "-")
        )  # fmt: skip


def release_task(session: Session, actor: Actor, task_id: str) -> HumanTask:
    """Give a claimed task back to the role's queue."""
    task = _held_task(session, actor, task_id)
    _check_not_named(task)
    if task.assignee != actor.username:
        raise ConflictError(
            _("task {task_id} is not yours to release (held by {user})", task_id=task.id, user=task.assignee or "-")
        )
    _set_assignee(session, task, actor.username, None)
    _log(session, task, "task_released", actor, actor.username, actor.username)
    return task


def colleagues(session: Session, actor: Actor, role: str | None = None) -> list[User]:
    """The other active officers of the actor's organisation (and role): who a task can go to."""
    if actor.org_id is None or not actor.is_officer:
        return []
    stmt = select(User).where(
        User.org_id == actor.org_id,
        User.active.is_(True),
        User.role == Role(role or actor.role.value),
        User.username != actor.username,
    )
    return list(session.scalars(stmt.order_by(User.username)))


def transfer_task(session: Session, actor: Actor, task_id: str, to_username: str, reason: str) -> HumanTask:
    """转办: hand a task one holds (or nobody holds) to another officer of the same organisation."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError(_("a transfer needs a reason"), field="reason")
    if len(reason) > MAX_REASON:
        raise InputError(_("the reason is longer than {limit} characters", limit=MAX_REASON), field="reason")
    task = _held_task(session, actor, task_id)
    _check_not_named(task)
    if task.assignee not in (None, actor.username):
        raise ConflictError(_("task {task_id} is already claimed by {user}", task_id=task.id, user=task.assignee))
    if to_username == actor.username:
        raise InputError(_("a task cannot be transferred to oneself"), field="to")
    target = session.scalars(select(User).where(User.username == to_username)).one_or_none()
    if target is None or not target.active:
        raise InputError(_("no active account '{username}'", username=to_username), field="to")
    if target.role.value != task.role or target.org_id != actor.org_id:
        raise InputError(
            _("{username} is not an officer of the same community and role", username=to_username), field="to"
        )
    held = task.assignee
    _set_assignee(session, task, held, target.username)
    _log(session, task, "task_transferred", actor, target.username, held, to=target.username, reason=reason)
    return task


def check_form(task: HumanTask, decision: str, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError(_("task data must be a JSON object"))
    if task.decisions and decision not in task.decisions:
        raise InputError(
            _(
                "'{decision}' is not a decision of step '{step}'; choose one of: {decisions}",
                decision=decision,
                step=task.name,
                decisions=", ".join(task.decisions),
            )
        )
    for name in REQUIRED_FIELDS.get(decision, ()):
        value = data.get(name)
        if value in (None, "", []):
            raise InputError(_("decision '{decision}' needs '{field}'", decision=decision, field=name), field=name)
    if "missing_materials" in data and not (
        isinstance(data["missing_materials"], list) and all(isinstance(m, str) for m in data["missing_materials"])
    ):
        raise InputError(_("'missing_materials' must be a list of strings"), field="missing_materials")
    reserved = {"by", "at"} & set(data)
    if reserved:
        raise InputError(_("'{field}' is set by Huiju, not by the form", field=sorted(reserved)[0]))
    if "comment" in data and not isinstance(data["comment"], str):
        raise InputError(_("'{field}' must be text", field="comment"), field="comment")
    form = {**data, "decision": decision}
    if not str(form.get("comment") or "").strip() and standard_opinion(decision):
        # Every decision carries an opinion (意见); the phrase of the trade when none is written.
        form["comment"] = standard_opinion(decision)
    return form


def complete_task(
    session: Session, engine: Engine, actor: Actor, task_id: str, decision: str, data: dict[str, Any]
) -> StepResult:
    """Decide a task. ``return`` (退回) sends the case back to a step it passed; ``co_review`` (加签)
    names a second officer whose decision the case waits for; answering a step that stopped the
    clock (补正) starts it again and moves the due dates on."""
    # The case is held here: the session keeps only weak references, and the audit entry reads it.
    task, _case, version = _task_to_decide(session, actor, task_id)
    if actor.sees_everything:
        raise PermissionDenied(_("administrators and integrators do not decide cases"))
    if task.assignee is not None and task.assignee != actor.username:
        raise PermissionDenied(_("task {task_id} is assigned to {user}", task_id=task.id, user=task.assignee))
    form = check_form(task, decision, data)
    audit.record_task(session, actor, "task.complete", task, after={"decision": decision},
                      detail=str(form.get("reason") or form.get("comment") or "")[:500] or None)  # fmt: skip
    if decision == "return":
        return engine.return_to(session, task.id, actor.username, str(form["to_step"]), str(form.get("comment", "")))
    if decision == "co_review":
        _check_co_reviewer(session, actor, task, form)
    updates = clock_updates(session, task)
    if updates is not None:
        version = None  # the clock's restart changed the instance's row (its context) since it was read
    return engine.complete_task(session, task.id, actor.username, form, data_updates=updates, version=version)


def _task_to_decide(session: Session, actor: Actor, task_id: str) -> tuple[HumanTask, Case | None, int | None]:
    """The task (as :func:`get_task`), with its case and its instance's lock version read in the same
    statement: the audit entry finds the case in the session, and the engine's step may read nothing."""
    if len(task_id) != _FULL_ID:
        return get_task(session, actor, task_id), None, None
    parameters = {"task_id": task_id, "org_id": actor.org_id, "resident_id": actor.resident_id or -1,
                  "username": actor.username}  # fmt: skip
    row = session.execute(_to_decide(actor.role), parameters).one_or_none()
    if row is None:
        raise NotFoundError(_("no task {task_id}", task_id=task_id))
    return row[0], row[1], row[2]


#: :func:`_task_to_decide`'s statement for each role, built once (a decision's hot path).
_TO_DECIDE: dict[Role, Any] = {}


def _to_decide(role: Role) -> Any:
    stmt = _TO_DECIDE.get(role)
    if stmt is None:
        base = (
            select(HumanTask, Case, ProcessInstance.lock_version)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .outerjoin(Case, Case.id == HumanTask.case_id)
            .options(*CASE_PARTIES)  # what the decision's documents say of the case: read with it
            .where(HumanTask.id == bindparam("task_id"))
        )
        scoped = _scoped(base, role, bindparam("org_id"), bindparam("resident_id"), bindparam("username"),
                         any_assignee=False)  # fmt: skip
        stmt = _TO_DECIDE.setdefault(role, scoped)
    return stmt


#: The length of a task's id (a UUID); shorter ones are prefixes people type.
_FULL_ID = 36


def clock_updates(session: Session, task: HumanTask) -> dict[str, Any] | None:
    """Completing a step that stopped the case's clock (补正) starts it again: the process's new
    ``deadlines`` to hand to the engine with the completion, or ``None``."""
    if task.properties.get("pauses_clock") != "true" or task.case_id is None:
        return None
    case = session.get(Case, task.case_id)
    deadlines = clock.resume(session, case, utcnow(), task.step) if case is not None else None
    return {"deadlines": deadlines} if deadlines else None


def return_targets(session: Session, engine: Engine, actor: Actor, task_id: str) -> list[tuple[str, str]]:
    """The steps a task may be returned to (退回): (step id, name), earliest first."""
    task = get_task(session, actor, task_id)
    if "return" not in task.decisions:
        return []
    return engine.return_targets(session, task.id)


def _check_co_reviewer(session: Session, actor: Actor, task: HumanTask, form: dict[str, Any]) -> None:
    username = form["co_reviewer"]
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    allowed_org = task.community_id if actor.role is Role.COMMUNITY_OFFICER else actor.org_id
    if user is None or not user.active or user.role is not actor.role or user.org_id != allowed_org:
        raise InputError(
            _("'{user}' is not an officer of the same office who can co-review", user=username), field="co_reviewer"
        )
    if username == actor.username:
        raise InputError(_("a co-reviewer must be someone else"), field="co_reviewer")
