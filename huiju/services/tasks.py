"""Human tasks: the inbox of an actor, and completing a task with a decision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from huiju.errors import InputError, NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import Role
from huiju.services.actors import Actor
from workflows_bpmn.models import HumanTask, HumanTaskStatus
from workflows_bpmn.runner import Engine, StepResult

#: Decisions that cannot be taken without saying why (or what is missing).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "refuse": ("reason",),
    "deny": ("reason",),
    "close": ("reason",),
    "supplement": ("missing_materials",),
    "answer": ("answer",),
}


def _scope(stmt: Any, actor: Actor) -> Any:
    if actor.sees_everything:
        return stmt
    stmt = stmt.where(HumanTask.role == actor.role.value)
    if actor.role is Role.COMMUNITY_OFFICER:
        stmt = stmt.where(HumanTask.community_id == actor.org_id)
    elif actor.role is Role.STREET_REVIEWER:
        stmt = stmt.where(HumanTask.street_id == actor.org_id)
    elif actor.role is Role.RESIDENT:
        stmt = stmt.where(HumanTask.resident_id == (actor.resident_id or -1))
    return stmt.where(or_(HumanTask.assignee.is_(None), HumanTask.assignee == actor.username))


def inbox(session: Session, actor: Actor, *, include_done: bool = False, limit: int = 200) -> list[HumanTask]:
    stmt = _scope(select(HumanTask), actor)
    if not include_done:
        stmt = stmt.where(HumanTask.status == HumanTaskStatus.READY)
    return list(session.scalars(stmt.order_by(HumanTask.due_at, HumanTask.created_at).limit(limit)))


def get_task(session: Session, actor: Actor, task_id: str) -> HumanTask:
    """A task the actor may see, by its id or (for people typing it) a unique prefix of 8+ characters."""
    stmt = _scope(select(HumanTask), actor)
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
    return {**data, "decision": decision}


def complete_task(
    session: Session, engine: Engine, actor: Actor, task_id: str, decision: str, data: dict[str, Any]
) -> StepResult:
    task = get_task(session, actor, task_id)
    if actor.sees_everything:
        raise PermissionDenied(_("administrators and integrators do not decide cases"))
    form = check_form(task, decision, data)
    return engine.complete_task(session, task.id, actor.username, form)
