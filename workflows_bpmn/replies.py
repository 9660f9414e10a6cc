"""What comes back to a waiting instance: the reply (or final failure) of a call, and the message
that a callback delivers, found by its correlation.

A reply completes the service task that waits for it, its result in the task's data. A final
failure is thrown at the task as the BPMN error ``service_failed`` (SpiffWorkflow's error event):
the nearest boundary event that catches it takes the case on; with none, the instance stops in
incident (``call_failed``) with the failure as its reason.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.models import MessageStatus
from exchange.outbox import Settled
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.i18n import _
from workflows_bpmn.mirror import TimelineEntry
from workflows_bpmn.models import InstanceStatus, ProcessInstance, WaitingMessage
from workflows_bpmn.step import Step
from workflows_bpmn.steps import boundary_catchers, escape_reply, step_errors

#: The BPMN error code the engine throws at a service task whose call finally failed.
SERVICE_FAILED = "service_failed"
#: The incident of a call that failed for good with nothing in the model to catch it.
CALL_FAILED = "call_failed"


def take(step: Step, settled: Settled) -> None:
    """Inside a step: take a message's reply, or its final failure, into the task that waits."""
    instance, result = step.instance, step.result
    reply_to = settled.reply_to
    where = reply_to.get("step"), reply_to.get("step_name"), settled.system
    if instance.status is InstanceStatus.COMPLETED:
        # The instance ended meanwhile (a case withdrawn while the worker held its reply): the
        # reply is kept and logged, the ended instance is left as it is.
        result.timeline.append(
            TimelineEntry("service_ignored", "system", *where, detail=f"{settled.operation}: the process has ended")
        )
        return
    task = step.workflow.get_task_from_id(UUID(reply_to["task_id"]))
    if task is None or task.state != TaskState.STARTED:
        result.timeline.append(
            TimelineEntry("service_ignored", "system", *where,
                          detail=f"{settled.operation}: the step no longer waits for this reply")
        )  # fmt: skip
        return
    step.settled_task = reply_to["task_id"]
    step.changed()
    if settled.status is MessageStatus.DELIVERED:
        task.data[reply_to["result_variable"]] = escape_reply(settled.reply)
        with step_errors(instance):
            task.complete()
        result.timeline.append(
            TimelineEntry("service_replied", "system", *where, detail=settled.operation,
                          data={"message_id": settled.message_id})
        )  # fmt: skip
    else:
        fail_service_task(step, task, settled)


def fail_service_task(step: Step, task: Any, settled: Settled) -> None:
    """Throw ``service_failed`` at the boundary of the task; with no catcher, raise an incident."""
    instance, result = step.instance, step.result
    definition = ErrorEventDefinition(SERVICE_FAILED, code=SERVICE_FAILED)
    event = BpmnEvent(definition, payload={"operation": settled.operation, "error": settled.last_error})
    catchers = boundary_catchers(task, event)
    reply_to = settled.reply_to
    where = reply_to.get("step"), reply_to.get("step_name"), settled.system
    detail = f"{settled.operation}: {settled.last_error}"
    if catchers:
        with step_errors(instance):
            for catcher in catchers:
                catcher.task_spec.catch(catcher, event)
                catcher.workflow.update_waiting_tasks()  # the caught boundary event becomes ready
        result.timeline.append(
            TimelineEntry("service_failed", "system", *where, detail=detail,
                          data={"message_id": settled.message_id, "caught": True})
        )  # fmt: skip
    else:
        instance.status = InstanceStatus.INCIDENT
        instance.incident_kind, instance.incident_detail = CALL_FAILED, detail
        result.timeline.append(
            TimelineEntry("incident", "system", *where, detail=detail,
                          data={"message_id": settled.message_id, "caught": False, "incident": CALL_FAILED})
        )  # fmt: skip


def waiting_instance(session: Session, name: str, correlations: dict[str, str]) -> int:
    """The one instance that waits for message ``name`` with every one of ``correlations``."""
    return waiting_instance_version(session, name, correlations)[0]


def waiting_instance_version(session: Session, name: str, correlations: dict[str, str]) -> tuple[int, int]:
    """The one instance that waits for message ``name`` with every one of ``correlations``, and its
    lock version (read with it: :meth:`workflows_bpmn.runner.Engine.step` may then read nothing)."""
    if not correlations:
        raise InputError(_("message {name} carries no correlation", name=name))
    candidates: dict[int, int] | None = None
    for key, value in correlations.items():
        stmt = (
            select(WaitingMessage.instance_id, ProcessInstance.lock_version)
            .join(ProcessInstance, ProcessInstance.id == WaitingMessage.instance_id)
            .where(
                WaitingMessage.name == name,
                WaitingMessage.correlation_key == key,
                WaitingMessage.correlation_value == str(value),
            )
        )
        found = {instance_id: version for instance_id, version in session.execute(stmt)}
        candidates = found if candidates is None else {i: v for i, v in candidates.items() if i in found}
    if not candidates:
        raise NotFoundError(
            _("no case waits for message {name} with {correlations}", name=name, correlations=correlations)
        )
    if len(candidates) > 1:
        raise ConflictError(_("several cases wait for message {name} with {correlations}",
                              name=name, correlations=correlations))  # fmt: skip
    return candidates.popitem()
