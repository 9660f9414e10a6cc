"""A 补正 answer goes back to the officer who asked for it (补正材料回原经办人).

When the applicant sends the material a request for more material (补正) asked for, the case returns
to intake; the officer who asked knows what was missing and why, so the new intake task is given to
them rather than to the community's queue — as a Chinese OA system routes a returned file to its
handler. If that officer can no longer take it (deactivated, moved to another office, another role),
the task stays in the queue.

A listener of the engine's steps (registered at start-up, after the case's own listener): it works in
the step's transaction, on the tasks the step made ready, and records the hand-back on the timeline.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huiju.models import Case, CaseEvent, Role, User
from huiju.services.cases import FOLLOW_UP
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import HumanTask

SUPPLEMENT = "supplement"
ANSWER = "submit"


def _decision(form: Any) -> str:
    return str(form.get("decision") or "") if isinstance(form, dict) else ""


def asker_of(case: Case) -> str | None:
    """Who made the latest request for more material on the case."""
    for event in reversed(case.events):
        if event.kind == "task_completed" and _decision((event.data or {}).get("form")) == SUPPLEMENT:
            return event.actor
    return None


def on_step(session: Session, result: StepResult) -> None:
    context = result.instance.context
    case_id = context.get("case_id")
    if case_id is None or context.get(FOLLOW_UP):
        return
    if not any(e.kind == "task_completed" and _decision(e.data.get("form")) == ANSWER for e in result.timeline):
        return
    waiting = [t for t in result.ready_tasks if t.role == Role.COMMUNITY_OFFICER.value and t.assignee is None]
    case = session.get(Case, case_id)
    if not waiting or case is None:
        return
    username = asker_of(case)
    officer = session.scalars(select(User).where(User.username == username)).one_or_none() if username else None
    if officer is None or not officer.active or officer.role is not Role.COMMUNITY_OFFICER:
        return
    for task in waiting:
        if task.community_id is not None and officer.org_id != task.community_id:
            continue
        # The step wrote its tasks with a statement of its own (the objects in the result are copies).
        session.execute(update(HumanTask).where(HumanTask.id == task.id).values(assignee=officer.username))
        task.assignee = officer.username
        session.add(CaseEvent(case_id=case.id, kind="task_assigned", step=task.step, step_name=task.name,
                              actor="system", detail=officer.username,
                              data={"task_id": task.id, "to": officer.username}))  # fmt: skip
    session.flush()
