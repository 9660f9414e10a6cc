"""What a step mirrors out of the serialized workflow into tables, in the step's transaction.

- the service requests the step made become outbox rows (validated against the contract first);
- pending calls whose step was interrupted are cancelled;
- ready user tasks become ``human_task`` rows (and rows of tasks no longer ready are cancelled);
- the message events the instance waits for become ``waiting_message`` rows.

And the records of a step (:class:`TimelineEntry`, :class:`StepResult`) that the layers above read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters import registry as adapter_registry
from exchange.models import MessageStatus, OutboxMessage
from huiju.db import utcnow
from huiju.errors import InputError, WorkflowError
from workflows_bpmn.expressions import HuijuScriptEngine
from workflows_bpmn.models import HumanTask, HumanTaskStatus, ProcessInstance, WaitingMessage
from workflows_bpmn.steps import interrupting_timer_due, waiting_message_correlations
from workflows_bpmn.validation import lane_role


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    actor: str
    step: str | None = None
    step_name: str | None = None
    system: str | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    instance: ProcessInstance
    timeline: list[TimelineEntry] = field(default_factory=list)
    ready_tasks: list[HumanTask] = field(default_factory=list)
    messages: list[OutboxMessage] = field(default_factory=list)
    waiting_status: str | None = None  # the case_status property of a ready task, if any
    #: Who took the step: the userId of the calls it sends (the acting officer, or "system").
    actor: str = "system"


def write_service_requests(
    session: Session, instance: ProcessInstance, script_engine: HuijuScriptEngine, result: StepResult
) -> None:
    now = utcnow()
    for request in script_engine.service_requests:
        operation = request["operation"]
        spec = adapter_registry.get_operation(operation)
        message = OutboxMessage(
            message_id=str(uuid.uuid4()),
            operation=operation,
            system=spec.system,
            params=request["params"],
            user_id=result.actor,
            case_number=instance.context.get("case_number"),
            process_instance_id=instance.id,
            reply_to={
                "instance_id": instance.id,
                "task_id": request["task_id"],
                "step": request["step"],
                "step_name": request["step_name"],
                "result_variable": request["result_variable"],
            },
            status=MessageStatus.PENDING,
            next_attempt_at=now,
            dispatched_at=now,  # handed to the broker after commit; the sweeper waits a while
        )
        try:
            adapter_registry.validate_params(operation, request["params"])
        except InputError as exc:
            # The model computed parameters the contract refuses: nothing is sent, and the
            # failure takes the same road as a refused call (boundary error or incident).
            message.status = MessageStatus.DEAD
            message.last_error = exc.message
            message.last_error_transient = False
        session.add(message)
        if message.status is MessageStatus.PENDING:
            result.messages.append(message)
        result.timeline.append(
            TimelineEntry("service_requested", "system", request["step"], request["step_name"],
                          spec.system, detail=operation, data={"message_id": message.message_id})
        )  # fmt: skip
    script_engine.service_requests.clear()


def sync_human_tasks(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, result: StepResult) -> None:
    known = {
        h.id: h
        for h in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == HumanTaskStatus.READY)
        )
    }
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    ready_ids = {str(t.id) for t in ready}
    for task_id, human in known.items():
        if task_id not in ready_ids:  # interrupted by a boundary event (timer, error)
            human.status = HumanTaskStatus.CANCELLED
            result.timeline.append(TimelineEntry("task_cancelled", "system", human.step, human.name))
    context = instance.context
    due = context.get("due_at")
    for task in ready:
        properties = dict(task.task_spec.extensions.get("properties", {}))
        if str(task.id) in known:
            result.waiting_status = result.waiting_status or properties.get("case_status")
            continue
        lane = task.task_spec.lane
        role = lane_role(lane)
        if role is None:
            raise WorkflowError(f"user task {task.task_spec.bpmn_id} is in unknown lane {lane!r}")
        earlier = session.get(HumanTask, str(task.id))
        if earlier is not None:  # a step made ready again by a return (退回): the same task, a new run
            session.delete(earlier)
            session.flush()
        human = HumanTask(
            id=str(task.id),
            instance_id=instance.id,
            case_id=context.get("case_id"),
            step=task.task_spec.bpmn_id,
            name=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
            lane=lane,
            role=role,
            community_id=context.get("community_id"),
            street_id=context.get("street_id"),
            resident_id=context.get("applicant_resident_id") if role == "resident" else None,
            status=HumanTaskStatus.READY,
            decisions=[d.strip() for d in properties.get("decisions", "").split(",") if d.strip()],
            properties=properties,
            due_at=interrupting_timer_due(task) or (datetime.fromisoformat(due) if due else None),
            assignee=assignee_from(task, properties),
        )
        session.add(human)
        result.ready_tasks.append(human)
        result.waiting_status = result.waiting_status or properties.get("case_status")
        result.timeline.append(
            TimelineEntry("task_ready", "system", human.step, human.name, detail=role,
                          data={"task_id": human.id})
        )  # fmt: skip


def assignee_from(task: Any, properties: dict[str, str]) -> str | None:
    """The assignee a step names from its data: ``assignee_from="review.co_reviewer"`` (加签)."""
    path = properties.get("assignee_from")
    if not path:
        return None
    value: Any = task.data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def cancel_abandoned_messages(
    session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, result: StepResult
) -> None:
    """A pending call whose step was interrupted (a boundary timer) is not sent any more."""
    pending = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.process_instance_id == instance.id, OutboxMessage.status == MessageStatus.PENDING
        )
    ).all()
    for message in pending:
        if message in result.messages:
            continue
        task = workflow.get_task_from_id(UUID(message.reply_to["task_id"]))
        if task is None or task.state != TaskState.STARTED:
            message.status = MessageStatus.CANCELLED
            message.settled_at = utcnow()
            result.timeline.append(
                TimelineEntry("service_cancelled", "system", message.reply_to.get("step"),
                              message.reply_to.get("step_name"), message.system, detail=message.operation)
            )  # fmt: skip


def sync_waiting_messages(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    wanted = {
        (name, prop, str(value)) for name, values in waiting_message_correlations(workflow)
        for prop, value in values.items()
    }  # fmt: skip
    existing = session.scalars(select(WaitingMessage).where(WaitingMessage.instance_id == instance.id)).all()
    for row in existing:
        entry = (row.name, row.correlation_key, row.correlation_value)
        if entry in wanted:
            wanted.discard(entry)
        else:
            session.delete(row)
    for message, prop, value in sorted(wanted):
        session.add(
            WaitingMessage(instance_id=instance.id, name=message, correlation_key=prop, correlation_value=value)
        )
