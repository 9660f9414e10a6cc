"""What a step mirrors out of the workflow into tables: only what changed, found in memory.

The tables beside the serialized state (ready ``human_task`` rows, ``waiting_message`` rows, pending
outbox messages) are always written from the committed workflow. So before a step the engine knows
what they say without asking them — the :class:`MirrorState` of the workflow as loaded — and after
the step it computes the state again and writes the difference, each kind in one statement:

- the service requests the step made become outbox rows (validated against the contract first);
- pending calls whose step was interrupted are cancelled;
- user tasks no longer ready are completed or cancelled, newly ready ones inserted;
- message events no longer awaited are deleted, new ones inserted.

And the records of a step (:class:`TimelineEntry`, :class:`StepResult`) that the layers above read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, and_, bindparam, delete, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from adapters import registry as adapter_registry
from exchange import outbox
from exchange.models import MessageStatus, OutboxMessage
from huiju.db import utcnow
from huiju.errors import InputError, WorkflowError
from workflows_bpmn.expressions import HuijuScriptEngine
from workflows_bpmn.models import HumanTask, HumanTaskStatus, ProcessInstance, WaitingMessage
from workflows_bpmn.specs import MESSAGE_ID, AsyncServiceTask
from workflows_bpmn.steps import interrupting_timer_due, next_timer, waiting_message_correlations
from workflows_bpmn.validation import lane_role

HUMAN = cast(Table, HumanTask.__table__)
WAITING = cast(Table, WaitingMessage.__table__)
# Statements built once: building one costs more than running it.
_COMPLETE_TASK = (
    update(HUMAN)
    .where(HUMAN.c.id == bindparam("task_id"))
    .values(status=HumanTaskStatus.COMPLETED, completed_at=bindparam("at"), completed_by=bindparam("by"),
            decision=bindparam("new_decision"))
)  # fmt: skip
_CANCEL_TASKS = (
    update(HUMAN)
    .where(HUMAN.c.id.in_(bindparam("ids", expanding=True)), HUMAN.c.status == HumanTaskStatus.READY)
    .values(status=HumanTaskStatus.CANCELLED)
)
_DELETE_TASKS = delete(HUMAN).where(HUMAN.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_TASKS = insert(HUMAN)
_DELETE_WAITING = delete(WAITING).where(
    and_(
        WAITING.c.instance_id == bindparam("i"), WAITING.c.name == bindparam("n"),
        WAITING.c.correlation_key == bindparam("k"), WAITING.c.correlation_value == bindparam("v"),
    )
)  # fmt: skip
_INSERT_WAITING = insert(WAITING)


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
    #: Whether callbacks of the instance's case are held, when the step's caller read it with its
    #: own statements (recording a reply: see :class:`exchange.outbox.Recorded`); None if not known.
    callbacks_held: bool | None = None
    #: What the listeners noted of the instance as committed (the case's status, say), carried from
    #: step to step with the process's cached workflow: empty when the step did not start from the
    #: cache (another process stepped the instance, or it was evicted), so a listener that finds
    #: nothing must not assume anything. Listeners update it for the next step.
    notes: dict[str, Any] = field(default_factory=dict)
    #: The workflow as the step left it, when the step loaded it (listeners read its data; they never
    #: change it): the instance row's stored state is written with a statement of its own.
    workflow: BpmnWorkflow | None = None


@dataclass(frozen=True)
class Ready:
    """A ready user task as its ``human_task`` row shows it."""

    step: str
    name: str
    case_status: str | None


@dataclass(frozen=True)
class Call:
    """A service task waiting for its reply, and its outbox message (None in state written before
    tasks carried their message ids)."""

    message_id: str | None
    step: str
    step_name: str
    operation: str


@dataclass(frozen=True)
class MirrorState:
    ready: Mapping[str, Ready]
    calls: Mapping[str, Call]
    waiting: frozenset[tuple[str, str, str]]  # (message, correlation property, value)
    waits: bool  # for any event at all: a timer, a message, a signal
    next_timer: datetime | None

    @classmethod
    def of(cls, workflow: BpmnWorkflow) -> MirrorState:
        ready: dict[str, Ready] = {}
        calls: dict[str, Call] = {}
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED):
            spec = task.task_spec
            if task.state == TaskState.READY and spec.manual:
                status = spec.extensions.get("properties", {}).get("case_status")
                ready[str(task.id)] = Ready(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, status)
            elif task.state == TaskState.STARTED and isinstance(spec, AsyncServiceTask):
                calls[str(task.id)] = Call(
                    task.internal_data.get(MESSAGE_ID),
                    spec.bpmn_id,
                    spec.bpmn_name or spec.bpmn_id,
                    spec.operation_name,
                )
        events = workflow.waiting_events()
        waiting = frozenset(
            (name, prop, str(value))
            for name, values in waiting_message_correlations(workflow, events)
            for prop, value in values.items()
        )
        return cls(ready, calls, waiting, bool(events), next_timer(workflow, events))

    @property
    def stuck(self) -> bool:
        """Nothing can move the instance on: no ready task, no pending call, no event awaited."""
        return not (self.ready or self.calls or self.waits)


EMPTY = MirrorState({}, {}, frozenset(), False, None)


@dataclass(frozen=True)
class Completion:
    """The user task a step completed (or returned from): who, when, with which decision."""

    task_id: str
    by: str
    at: datetime
    decision: str | None


def _expire(session: Session, cls: type[Any], ids: list[Any]) -> None:
    """Objects of rows changed here by statement, if the session holds them, read again on use."""
    for ident in ids:
        obj = session.identity_map.get(identity_key(cls, ident))
        if obj is not None:
            session.expire(obj)


def write_service_requests(
    session: Session, instance: ProcessInstance, script_engine: HuijuScriptEngine, result: StepResult
) -> None:
    now = utcnow()
    queued: list[OutboxMessage] = []
    for request in script_engine.service_requests:
        operation = request["operation"]
        spec = adapter_registry.get_operation(operation)
        message = OutboxMessage(
            message_id=request["message_id"],
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
            dispatched_at=now,  # handed to the broker after commit
        )
        try:
            adapter_registry.validate_params(operation, request["params"])
        except InputError as exc:
            # The model computed parameters the contract refuses: nothing is sent, and the
            # failure takes the same road as a refused call (boundary error or incident).
            message.status = MessageStatus.DEAD
            message.last_error = exc.message
            message.last_error_transient = False
        queued.append(message)
        if message.status is MessageStatus.PENDING:
            result.messages.append(message)
        result.timeline.append(
            TimelineEntry("service_requested", "system", request["step"], request["step_name"],
                          spec.system, detail=operation, data={"message_id": message.message_id})
        )  # fmt: skip
    script_engine.service_requests.clear()
    outbox.enqueue(session, queued)


def cancel_abandoned_calls(
    session: Session, instance: ProcessInstance, before: MirrorState, after: MirrorState,
    result: StepResult, *, settled_task: str | None = None,
) -> None:  # fmt: skip
    """A pending call whose step was interrupted (a boundary timer, a withdrawal) is not sent."""
    gone = {task_id: call for task_id, call in before.calls.items() if task_id not in after.calls}
    gone.pop(settled_task or "", None)
    if not gone:
        return
    legacy = [task_id for task_id, call in gone.items() if call.message_id is None]
    found = outbox.pending_of_tasks(session, instance.id, legacy) if legacy else {}
    by_message = {call.message_id or found.get(task_id): call for task_id, call in gone.items()}
    by_message.pop(None, None)
    for message_id in outbox.cancel(session, [m for m in by_message if m is not None]):
        call = by_message[message_id]
        spec = adapter_registry.REGISTRY.operation(call.operation)
        system = spec.system if spec is not None else None
        result.timeline.append(
            TimelineEntry("service_cancelled", "system", call.step, call.step_name, system, detail=call.operation)
        )


def sync_human_tasks(
    session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, before: MirrorState,
    after: MirrorState, result: StepResult, *, completed: Completion | None = None, reset: bool = False,
) -> None:  # fmt: skip
    run = session.connection().execute
    left = [task_id for task_id in before.ready if task_id not in after.ready]
    if completed is not None and completed.task_id in left:
        left.remove(completed.task_id)
        run(_COMPLETE_TASK, {"task_id": completed.task_id, "at": completed.at, "by": completed.by,
                             "new_decision": completed.decision})  # fmt: skip
        _expire(session, HumanTask, [completed.task_id])
    if left:  # interrupted by a boundary event (timer, error), or the instance was cancelled
        run(_CANCEL_TASKS, {"ids": left})
        _expire(session, HumanTask, left)
        for task_id in left:
            gone = before.ready[task_id]
            result.timeline.append(TimelineEntry("task_cancelled", "system", gone.step, gone.name))
    for ready in after.ready.values():
        result.waiting_status = result.waiting_status or ready.case_status
    new = [task_id for task_id in after.ready if task_id not in before.ready]
    if not new:
        return
    if reset:  # a step made ready again by a return (退回): the same task, a new run
        run(_DELETE_TASKS, {"ids": new})
        _expire(session, HumanTask, new)
    rows = [_human_row(instance, workflow, task_id) for task_id in new]
    run(_INSERT_TASKS, rows)
    for row in rows:
        human = HumanTask(**row)
        result.ready_tasks.append(human)
        result.timeline.append(
            TimelineEntry("task_ready", "system", human.step, human.name, detail=human.role, data={"task_id": human.id})
        )


def _human_row(instance: ProcessInstance, workflow: BpmnWorkflow, task_id: str) -> dict[str, Any]:
    from uuid import UUID

    task = workflow.get_task_from_id(UUID(task_id))
    spec = task.task_spec
    properties = dict(spec.extensions.get("properties", {}))
    role = lane_role(spec.lane)
    if role is None:
        raise WorkflowError(f"user task {spec.bpmn_id} is in unknown lane {spec.lane!r}")
    context = instance.context
    due = context.get("due_at")
    return {
        "id": task_id,
        "instance_id": instance.id,
        "case_id": context.get("case_id"),
        "step": spec.bpmn_id,
        "name": spec.bpmn_name or spec.bpmn_id,
        "lane": spec.lane,
        "role": role,
        "community_id": context.get("community_id"),
        "street_id": context.get("street_id"),
        "resident_id": context.get("applicant_resident_id") if role == "resident" else None,
        "assignee": assignee_from(task, properties),
        "status": HumanTaskStatus.READY,
        "decisions": [d.strip() for d in properties.get("decisions", "").split(",") if d.strip()],
        "properties": properties,
        "created_at": utcnow(),
        "due_at": interrupting_timer_due(task) or (datetime.fromisoformat(due) if due else None),
    }


def assignee_from(task: Any, properties: dict[str, str]) -> str | None:
    """The assignee a step names from its data: ``assignee_from="review.co_reviewer"`` (加签)."""
    path = properties.get("assignee_from")
    if not path:
        return None
    value: Any = task.data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def sync_waiting_messages(session: Session, instance: ProcessInstance, before: MirrorState, after: MirrorState) -> None:
    gone = sorted(before.waiting - after.waiting)
    run = session.connection().execute
    if gone:
        run(_DELETE_WAITING, [{"i": instance.id, "n": name, "k": key, "v": value} for name, key, value in gone])
    new = sorted(after.waiting - before.waiting)
    if new:
        now = utcnow()
        run(
            _INSERT_WAITING,
            [
                {"instance_id": instance.id, "name": name, "correlation_key": key, "correlation_value": value,
                 "created_at": now}
                for name, key, value in new
            ],
        )  # fmt: skip
