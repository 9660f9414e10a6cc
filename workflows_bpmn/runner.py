"""The runner: every operation that changes an instance, each one :meth:`Engine.step`.

A step runs in the caller's transaction (see :mod:`workflows_bpmn.step`): it locks the instance,
loads its workflow, lets the operation change it, advances it, writes what changed beside it (outbox
messages, human tasks, awaited messages) and the new state, all in one write transaction. Listeners
registered by the layers above (the case service) see each step's result inside that transaction,
so that domain state and engine state commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from exchange import outbox
from exchange.outbox import Settled
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.i18n import _
from workflows_bpmn import replies
from workflows_bpmn import step as steps
from workflows_bpmn.definitions import SpecCache, latest_version
from workflows_bpmn.expressions import HuijuScriptEngine
from workflows_bpmn.mirror import (
    EMPTY,
    Completion,
    StepResult,
    TimelineEntry,
)
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessInstance
from workflows_bpmn.replies import CALL_FAILED, SERVICE_FAILED
from workflows_bpmn.serialization import SERIALIZER_VERSION, WorkflowStore, forget_saved
from workflows_bpmn.step import STUCK, Step, WorkflowCache
from workflows_bpmn.steps import (
    check_data,
    check_data_dict,
    escape_reply,
    latest_passed_step,
    message_event,
    passed_steps,
    step_errors,
)

__all__ = [
    "CALL_FAILED",
    "SERVICE_FAILED",
    "STEP_FAILED",
    "STUCK",
    "WITHDRAWN",
    "Engine",
    "Step",
    "StepResult",
    "TimelineEntry",
]

log = logging.getLogger(__name__)

#: The outcome of an instance cancelled because its case was withdrawn.
WITHDRAWN = "withdrawn"
#: Kinds of incident (their words are in :mod:`huiju.labels`): a call failed and nothing in the
#: model caught it (CALL_FAILED); a step cannot be taken, a model error or a value it cannot take
#: (STEP_FAILED); nothing can move the instance on (STUCK).
STEP_FAILED = "step_failed"

StepListener = Callable[[Session, StepResult], None]
Dispatcher = Callable[[list[str]], None]
FunctionsFactory = Callable[[Session], dict[str, Callable[..., Any]]]


class Engine:
    """One per process (web, worker, CLI): holds the spec cache, the workflow cache and the serializer."""

    serializer_version = SERIALIZER_VERSION

    def __init__(
        self,
        *,
        cache: SpecCache,
        functions: FunctionsFactory,
        dispatch: Dispatcher | None = None,
        listeners: list[StepListener] | None = None,
        cache_size: int = 256,
    ) -> None:
        self.cache = cache
        self.functions = functions
        self.dispatch = dispatch
        self.listeners = list(listeners or [])
        self.store = WorkflowStore()
        self.workflows = WorkflowCache(cache_size)

    # -- the step ------------------------------------------------------------------------------

    @contextmanager
    def step(
        self, session: Session, instance_id: int, *, actor: str = "system", version: int | None = None
    ) -> Iterator[Step]:
        """Lock the instance, hand it to the caller to change, then advance, mirror and persist it.

        The caller reads ``step.workflow`` (loaded on first use), changes it and calls
        ``step.changed()``; or changes only ``step.instance.status``; or adds to
        ``step.result.timeline``. Whatever it did is written when the block ends without error.
        ``version``: the instance's lock version, if the caller read it in this transaction (see
        :func:`workflows_bpmn.step.lock`).
        """
        current = steps.lock(self, session, instance_id, actor, version=version)
        yield current
        steps.finish(self, current)

    # -- the ways in ---------------------------------------------------------------------------

    def start(
        self,
        session: Session,
        process_id: str,
        data: dict[str, Any],
        context: dict[str, Any],
        actor: str,
        *,
        timeline: Sequence[TimelineEntry] = (),
        latest: tuple[int, str, int] | None = None,
        instance_id: int | None = None,
    ) -> StepResult:
        """Start the latest version of a process and run it to its first wait; ``timeline`` holds the
        host's own entries of what started it, written before the process's (in one statement).
        ``latest``: (id, name, version) of that version, if the caller read it in this transaction.
        ``instance_id``: the new instance's id, if the caller reserved one in this transaction (see
        :func:`huiju.db.count_up_and_reserve`)."""
        definition_id, name, version = latest or latest_version(session, process_id)
        spec, subprocess_specs = self.cache.get_by_id(session, definition_id)
        script_engine = HuijuScriptEngine(self.functions(session))
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(check_data(data, _("start data")))
        now = utcnow()
        instance = ProcessInstance(
            id=instance_id, definition_id=definition_id, process_id=process_id, status=InstanceStatus.RUNNING,
            outcome=None, context=context, serialized=b"", serializer_version=SERIALIZER_VERSION, next_timer_due=None,
            incident_kind=None, incident_detail=None, created_at=now, updated_at=now, lock_version=1,
        )  # fmt: skip
        step = Step(self, session, instance, StepResult(instance, actor=actor), 1, b"", advance=True)
        step._row = {name: getattr(instance, name) for name in steps.ROW_FIELDS}
        step._workflow, step._script_engine, step.before = workflow, script_engine, EMPTY
        step.result.timeline.extend([*timeline, TimelineEntry("process_started", actor, detail=f"{name} v{version}")])
        steps.finish(self, step, new=True)
        return step.result

    def complete_task(
        self,
        session: Session,
        task_id: str,
        actor: str,
        form: dict[str, Any],
        data_updates: dict[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> StepResult:
        """Complete a ready user task with the given form (its ``decision`` included).

        ``data_updates`` are process variables the host sets on the way (the case's new due dates
        when the clock starts again), checked like the form. ``version``: see :meth:`step`.
        """
        human = self._human_task(session, task_id)
        with self.step(session, human.instance_id, actor=actor, version=version) as step:
            task = self._ready_task(step, human)
            now = utcnow()
            if data_updates:
                task.data.update(check_data(data_updates, _("process data")))
            task.data[human.step] = check_data({**form, "by": actor, "at": now.isoformat()}, _("form data"))
            with step_errors(step.instance):
                task.run()
            step.changed()
            step.completed = Completion(task_id, actor, now, form.get("decision"))
            step.result.timeline.append(
                TimelineEntry(
                    "task_completed", actor, human.step, human.name,
                    detail=str(form.get("decision") or ""), data={"form": form, "task_id": task_id},
                )
            )  # fmt: skip
        return step.result

    def return_to(self, session: Session, task_id: str, actor: str, to_step: str, comment: str) -> StepResult:
        """Send the case back (退回) from a ready user task to a user step it has passed.

        The process is reset to the latest run of ``to_step``: what came after it is dropped and the
        step is ready again, for its lane's role, with the comment in the case's timeline.
        """
        human = self._human_task(session, task_id)
        with self.step(session, human.instance_id, actor=actor) as step:
            task = self._ready_task(step, human)
            target = latest_passed_step(step.workflow, task, to_step)
            if target is None:
                raise InputError(
                    _("the case has not passed a step '{step}' it can be returned to", step=to_step), field="to_step"
                )
            workflow = step.workflow
            with step_errors(step.instance):
                dropped = workflow.reset_from_task_id(target.id)
                for gone in dropped:  # SpiffWorkflow 3.2 leaves dropped timers in the event manager
                    workflow.event_manager.remove_task(gone)
            step.changed()
            step.reset = True
            step.completed = Completion(task_id, actor, utcnow(), "return")
            step.result.timeline.append(
                TimelineEntry(
                    "returned", actor, human.step, human.name, detail=comment,
                    data={"to_step": to_step, "to_step_name": target.task_spec.bpmn_name or to_step,
                          "task_id": task_id},
                )
            )  # fmt: skip
        return step.result

    def return_targets(self, session: Session, task_id: str) -> list[tuple[str, str]]:
        """The user steps a ready task may be returned to: (step id, name), earliest first."""
        human = self._human_task(session, task_id)
        step = steps.lock(self, session, human.instance_id, "system", for_update=False)
        workflow = self.store.loads(
            step.serialized, step.instance.serializer_version,
            *self.cache.get_by_id(session, step.instance.definition_id), None,
        )  # fmt: skip
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY:
            raise ConflictError(_("task {task_id} is not ready in its process", task_id=task_id))
        return passed_steps(workflow, task)

    def load(self, session: Session, instance_id: int) -> BpmnWorkflow:
        """The workflow of an instance as committed, for reading (never cached, never written)."""
        step = steps.lock(self, session, instance_id, "system", for_update=False)
        spec, subprocess_specs = self.cache.get_by_id(session, step.instance.definition_id)
        return self.store.loads(
            step.serialized, step.instance.serializer_version, spec, subprocess_specs,
            HuijuScriptEngine(self.functions(session)),
        )  # fmt: skip

    def settle(self, session: Session, message_id: str) -> StepResult | None:
        """Feed a delivered reply, or a final failure, back into the step that waits for it."""
        session.flush()  # a reply the caller recorded through the session is read by statement
        try:
            instance_id = outbox.instance_of(session, message_id)
        except LookupError:
            raise NotFoundError(_("no outbox message {message_id}", message_id=message_id)) from None
        if instance_id is None:
            settled = outbox.settle(session, message_id)
            return None
        with self.step(session, instance_id) as step:
            if step.instance.status is InstanceStatus.SUSPENDED:
                return None  # taken when the instance is resumed (the sweep finds it unsettled)
            settled = outbox.settle(session, message_id)
            if settled is not None:
                self.take(step, settled)
        return step.result if settled is not None else None

    def take(self, step: Step, settled: Settled) -> None:
        """Inside a step: take a message's reply, or its final failure, into the task that waits."""
        replies.take(step, settled)

    def retry_incident(
        self, session: Session, instance_id: int, actor: str, *, message_id: str | None = None
    ) -> list[str]:
        """Take an instance out of incident: send again (same message ids) the dead messages whose
        step still waits, or only ``message_id``; the sweep then retries whatever else was held."""
        with self.step(session, instance_id, actor=actor) as step:
            instance = step.instance
            if instance.status is not InstanceStatus.INCIDENT:
                raise ConflictError(_("process instance {instance_id} has no incident", instance_id=instance_id))
            waiting = [
                mid for mid, task_id in outbox.dead_of(session, instance_id, message_id)
                if (task := step.workflow.get_task_from_id(UUID(task_id))) is not None
                and task.state == TaskState.STARTED
            ]  # fmt: skip  # a task no longer started was caught long ago by the model, or interrupted
            if message_id is not None and not waiting:
                raise ConflictError(
                    _("the step that sent message {message_id} no longer waits for it", message_id=message_id)
                )
            ids = outbox.requeue(session, waiting)
            instance.status = InstanceStatus.RUNNING
            instance.incident_kind = instance.incident_detail = None
            step.result.waiting_status = "processing" if ids else None
            step.result.timeline.append(TimelineEntry("incident_retried", actor, detail=", ".join(ids)))
        steps.dispatch_after_commit(self, session, ids)
        return ids

    def deliver_message(
        self, session: Session, name: str, correlations: dict[str, str], payload: dict[str, Any], actor: str,
        *, waiting: tuple[int, int] | None = None,
    ) -> StepResult:  # fmt: skip
        """Hand a verified incoming message (a callback) to the one instance that waits for it.

        The instance is found by the message name and every correlation value; a message that no
        instance waits for, or that matches several, is refused, never dropped silently.
        ``waiting``: that instance and its lock version, if the caller found them in this transaction.
        """
        instance_id, version = waiting or replies.waiting_instance_version(session, name, correlations)
        with self.step(session, instance_id, version=version) as step:
            workflow = step.workflow
            event = message_event(workflow, name, correlations, escape_reply(check_data_dict(payload)))
            if event is None:
                raise ConflictError(_("the case no longer waits for message {name}: {reason}", name=name, reason="-"))
            with step_errors(step.instance):
                try:
                    workflow.send_event(event)
                except WorkflowException as exc:
                    raise ConflictError(
                        _("the case no longer waits for message {name}: {reason}", name=name, reason=str(exc))
                    ) from exc
            step.changed()
            step.result.timeline.append(
                TimelineEntry("message_received", actor, detail=name, data={"payload": payload})
            )
        return step.result

    def waiting_instance(self, session: Session, name: str, correlations: dict[str, str]) -> int:
        """The one instance that waits for message ``name`` with every one of ``correlations``."""
        return replies.waiting_instance(session, name, correlations)

    def cancel(self, session: Session, instance_id: int, actor: str, reason: str) -> StepResult:
        """End a running instance where it stands (a case withdrawn by its applicant).

        Every unfinished task is cancelled; in the same transaction its ready human tasks are
        cancelled, pending calls are not sent any more, nothing waits for a message or a timer,
        and the instance completes with the outcome ``withdrawn``.
        """
        with self.step(session, instance_id, actor=actor) as step:
            instance = step.instance
            if instance.status is InstanceStatus.COMPLETED:
                raise ConflictError(_("process instance {instance_id} has already ended", instance_id=instance_id))
            step.workflow.cancel()
            step.mirror = True
            instance.status = InstanceStatus.COMPLETED
            instance.outcome = WITHDRAWN
            instance.incident_kind = instance.incident_detail = None
            step.closing.append(TimelineEntry("withdrawn", actor, detail=reason))
        return step.result

    def mark_incident(self, session: Session, instance_id: int, detail: str, *, kind: str = STEP_FAILED) -> None:
        """Stop an instance whose step cannot be taken; an officer retries it once mended."""
        with self.step(session, instance_id) as step:
            if step.instance.status is InstanceStatus.RUNNING:
                steps.incident(step.instance, step.result.timeline, kind, detail)

    def wake_timers(self, session: Session, instance_id: int) -> StepResult | None:
        """Fire the due timers of one instance (called by the periodic sweep)."""
        with self.step(session, instance_id) as step:
            instance = step.instance
            due = instance.next_timer_due
            if instance.status in (InstanceStatus.COMPLETED, InstanceStatus.SUSPENDED) or due is None or due > utcnow():
                return None
            workflow = step.workflow
            waiting = {t.id for t in workflow.get_tasks(state=TaskState.WAITING)}
            with step_errors(instance):
                workflow.refresh_timers()
            if waiting == {t.id for t in workflow.get_tasks(state=TaskState.WAITING)}:
                # Nothing fired (a clock a little behind ours): look again later, never in a hot loop.
                step.cacheable = False  # refreshed, not persisted
                instance.next_timer_due = max(step.before.next_timer or due, utcnow() + timedelta(seconds=30))
                return None
            step.changed()
            step.result.timeline.append(TimelineEntry("timer_fired", "system", detail=due.isoformat()))
        return step.result

    def update_data(self, session: Session, instance_id: int, updates: dict[str, Any]) -> StepResult | None:
        """Set process variables on every open task of an instance, and read its date timers again.

        For the host's facts that change while a case waits: its due dates after a year's calendar is
        entered. A timer waiting on a date (``timeDate``) is evaluated anew with the new data (it may
        fire at once); duration timers keep their start. ``None`` when the instance has ended.
        """
        with self.step(session, instance_id) as step:
            if step.instance.status is InstanceStatus.COMPLETED:
                return None
            updates = check_data(updates, _("process data"))
            with step_errors(step.instance):
                # Every copy of the variables: a task inherits (merges) its parent's data when it is
                # updated, so an old value left on a finished ancestor would come back.
                for task in step.workflow.get_tasks():
                    if not task.has_state(TaskState.FINISHED_MASK) or updates.keys() & task.data.keys():
                        task.data.update(updates)
                    if task.state == TaskState.WAITING and isinstance(
                        getattr(task.task_spec, "event_definition", None), TimeDateEventDefinition
                    ):
                        task.internal_data.pop("event_value", None)
            forget_saved(step.workflow)  # finished tasks changed in place: save them anew
            step.changed()
        return step.result

    # -- inside a step ---------------------------------------------------------------------------

    def _human_task(self, session: Session, task_id: str) -> HumanTask:
        human = session.get(HumanTask, task_id)
        if human is None:
            raise NotFoundError(_("no task {task_id}", task_id=task_id))
        return human

    def _ready_task(self, step: Step, human: HumanTask) -> Any:
        """The ready workflow task of a human task, or a clear conflict (the workflow decides)."""
        if step.instance.status is InstanceStatus.SUSPENDED:
            raise ConflictError(
                _("the case is suspended by an administrator; its tasks can be decided once it is resumed")
            )
        ended = step.instance.status is InstanceStatus.COMPLETED  # its state is a summary: no tasks
        task = None if ended else step.workflow.get_task_from_id(UUID(human.id))
        if task is not None and task.state == TaskState.READY and human.status is HumanTaskStatus.READY:
            return task
        step.session.refresh(human)  # what the row says now, for the message
        if human.status is not HumanTaskStatus.READY:
            fields = {"task_id": human.id, "status": human.status.value}
            raise ConflictError(
                _("task {task_id} is already {status} by {user}", user=human.completed_by, **fields)
                if human.completed_by
                else _("task {task_id} is already {status}", **fields)
            )
        if task is None or task.state != TaskState.READY:
            raise ConflictError(_("task {task_id} is not ready in its process", task_id=human.id))
        return task
