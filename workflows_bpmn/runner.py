"""The runner: every engine step, under a per-instance lock, persisted in the caller's transaction.

A step loads the instance (its row locked: ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
transactions here take the write lock at BEGIN), runs SpiffWorkflow, then writes in the same
transaction the new state, the outbox rows of the service calls the step asked for, the mirrored
human tasks and the timeline entries. The row's version column makes a stale writer fail rather
than overwrite a newer step. Listeners registered by the layers above (the case service) see each
step's result inside the transaction, so that domain state and engine state commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.models import MessageStatus, OutboxMessage
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.i18n import _
from workflows_bpmn.definitions import SpecCache, latest_definition
from workflows_bpmn.expressions import HuijuScriptEngine
from workflows_bpmn.mirror import (
    StepResult,
    TimelineEntry,
    cancel_abandoned_messages,
    sync_human_tasks,
    sync_waiting_messages,
    write_service_requests,
)
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessInstance, WaitingMessage
from workflows_bpmn.serialization import SERIALIZER_VERSION, WorkflowStore
from workflows_bpmn.steps import (
    boundary_catchers,
    check_data,
    check_data_dict,
    escape_reply,
    latest_passed_step,
    message_event,
    next_timer,
    outcome_of,
    passed_steps,
    step_errors,
)

log = logging.getLogger(__name__)

#: The BPMN error code the engine throws at a service task whose call finally failed.
SERVICE_FAILED = "service_failed"
#: The outcome of an instance cancelled because its case was withdrawn.
WITHDRAWN = "withdrawn"


StepListener = Callable[[Session, StepResult], None]
Dispatcher = Callable[[list[str]], None]
FunctionsFactory = Callable[[Session], dict[str, Callable[..., Any]]]


class Engine:
    """One per process (web, worker, CLI): holds the spec cache and the serializer."""

    def __init__(
        self,
        *,
        cache: SpecCache,
        functions: FunctionsFactory,
        dispatch: Dispatcher | None = None,
        listeners: list[StepListener] | None = None,
    ) -> None:
        self.cache = cache
        self.functions = functions
        self.dispatch = dispatch
        self.listeners = list(listeners or [])
        self.store = WorkflowStore()

    # -- the ways in ---------------------------------------------------------------------------

    def start(
        self, session: Session, process_id: str, data: dict[str, Any], context: dict[str, Any], actor: str
    ) -> StepResult:
        definition = latest_definition(session, process_id)
        assert definition is not None  # noqa: S101 - latest_definition raises when required
        spec, subprocess_specs = self.cache.get(definition)
        script_engine = HuijuScriptEngine(self.functions(session))
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(check_data(data, _("start data")))
        instance = ProcessInstance(
            definition_id=definition.id,
            process_id=process_id,
            status=InstanceStatus.RUNNING,
            context=context,
            serialized="",
            serializer_version=SERIALIZER_VERSION,
        )
        session.add(instance)
        session.flush()
        result = StepResult(instance, actor=actor)
        result.timeline.append(
            TimelineEntry("process_started", actor, detail=f"{definition.name} v{definition.version}")
        )
        self._advance(session, instance, workflow, script_engine, result)
        return result

    def complete_task(
        self,
        session: Session,
        task_id: str,
        actor: str,
        form: dict[str, Any],
        data_updates: dict[str, Any] | None = None,
    ) -> StepResult:
        """Complete a ready user task with the given form (its ``decision`` included).

        ``data_updates`` are process variables the host sets on the way (the case's new due dates
        when the clock starts again), checked like the form.
        """
        human, instance, workflow, script_engine, task = self._ready_task(session, task_id)
        now = utcnow()
        if data_updates:
            task.data.update(check_data(data_updates, _("process data")))
        task.data[human.step] = check_data({**form, "by": actor, "at": now.isoformat()}, _("form data"))
        with step_errors(instance):
            task.run()
        human.status = HumanTaskStatus.COMPLETED
        human.completed_at = now
        human.completed_by = actor
        human.decision = form.get("decision")
        result = StepResult(instance, actor=actor)
        result.timeline.append(
            TimelineEntry(
                "task_completed", actor, human.step, human.name,
                detail=str(form.get("decision") or ""), data={"form": form, "task_id": task_id},
            )
        )  # fmt: skip
        self._advance(session, instance, workflow, script_engine, result)
        return result

    def return_to(self, session: Session, task_id: str, actor: str, to_step: str, comment: str) -> StepResult:
        """Send the case back (退回) from a ready user task to a user step it has passed.

        The process is reset to the latest run of ``to_step``: what came after it is dropped and the
        step is ready again, for its lane's role, with the comment in the case's timeline.
        """
        human, instance, workflow, script_engine, task = self._ready_task(session, task_id)
        target = latest_passed_step(workflow, task, to_step)
        if target is None:
            raise InputError(
                _("the case has not passed a step '{step}' it can be returned to", step=to_step), field="to_step"
            )
        now = utcnow()
        with step_errors(instance):
            dropped = workflow.reset_from_task_id(target.id)
            for gone in dropped:  # SpiffWorkflow 3.2 leaves dropped timers in the event manager
                workflow.event_manager.remove_task(gone)
        human.status = HumanTaskStatus.COMPLETED
        human.completed_at = now
        human.completed_by = actor
        human.decision = "return"
        result = StepResult(instance, actor=actor)
        result.timeline.append(
            TimelineEntry(
                "returned", actor, human.step, human.name, detail=comment,
                data={"to_step": to_step, "to_step_name": target.task_spec.bpmn_name or to_step, "task_id": task_id},
            )
        )  # fmt: skip
        self._advance(session, instance, workflow, script_engine, result)
        return result

    def return_targets(self, session: Session, task_id: str) -> list[tuple[str, str]]:
        """The user steps a ready task may be returned to: (step id, name), earliest first."""
        _human, _instance, workflow, _engine, task = self._ready_task(session, task_id, lock=False)
        return passed_steps(workflow, task)

    def settle(self, session: Session, message_id: str) -> StepResult | None:
        """Feed a delivered reply, or a final failure, back into the step that waits for it."""
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one_or_none()
        if message is None:
            raise NotFoundError(_("no outbox message {message_id}", message_id=message_id))
        instance = self._lock(session, int(message.reply_to["instance_id"]))
        session.refresh(message)
        if message.settled_at is not None or message.status is MessageStatus.PENDING:
            return None
        message.settled_at = utcnow()
        step, step_name = message.reply_to.get("step"), message.reply_to.get("step_name")
        if instance.status is InstanceStatus.COMPLETED:
            # The instance ended meanwhile (a case withdrawn while the worker held its reply): the
            # reply is kept and logged, the ended instance is left as it is.
            result = StepResult(instance)
            result.timeline.append(
                TimelineEntry("service_ignored", "system", step, step_name, message.system,
                              detail=f"{message.operation}: the process has ended")
            )  # fmt: skip
            self._notify(session, result)
            return result
        workflow, script_engine = self._load(session, instance)
        task = workflow.get_task_from_id(UUID(message.reply_to["task_id"]))
        result = StepResult(instance)
        if task is None or task.state != TaskState.STARTED:
            result.timeline.append(
                TimelineEntry("service_ignored", "system", step, step_name, message.system,
                              detail=f"{message.operation}: the step no longer waits for this reply")
            )  # fmt: skip
        elif message.status is MessageStatus.DELIVERED:
            task.data[message.reply_to["result_variable"]] = escape_reply(message.reply)
            with step_errors(instance):
                task.complete()
            result.timeline.append(
                TimelineEntry("service_replied", "system", step, step_name, message.system,
                              detail=message.operation, data={"message_id": message_id})
            )  # fmt: skip
        else:
            self._fail_service_task(instance, task, message, result)
        self._advance(session, instance, workflow, script_engine, result)
        return result

    def retry_incident(
        self, session: Session, instance_id: int, actor: str, *, message_id: str | None = None
    ) -> list[str]:
        """Take an instance out of incident: send again (same message ids) the dead messages whose
        step still waits, or only ``message_id``; the sweep then retries whatever else was held."""
        instance = self._lock(session, instance_id)
        if instance.status is not InstanceStatus.INCIDENT:
            raise ConflictError(_("process instance {instance_id} has no incident", instance_id=instance_id))
        workflow, _engine = self._load(session, instance)
        stmt = select(OutboxMessage).where(
            OutboxMessage.status == MessageStatus.DEAD, OutboxMessage.process_instance_id == instance_id
        )
        if message_id is not None:
            stmt = stmt.where(OutboxMessage.message_id == message_id)
        dead = session.scalars(stmt).all()
        ids = []
        now = utcnow()
        for message in dead:
            task = workflow.get_task_from_id(UUID(message.reply_to["task_id"]))
            if task is None or task.state != TaskState.STARTED:
                continue  # caught long ago by the model, or its step was interrupted
            message.status = MessageStatus.PENDING
            message.settled_at = None
            message.attempts = 0
            message.next_attempt_at = now
            message.dispatched_at = now
            ids.append(message.message_id)
        if message_id is not None and not ids:
            raise ConflictError(
                _("the step that sent message {message_id} no longer waits for it", message_id=message_id)
            )
        instance.status = InstanceStatus.RUNNING
        instance.updated_at = now
        result = StepResult(instance, waiting_status="processing" if ids else None)
        result.timeline.append(TimelineEntry("incident_retried", actor, detail=", ".join(ids)))
        self._notify(session, result)
        self._dispatch_after_commit(session, ids)
        return ids

    def deliver_message(
        self, session: Session, name: str, correlations: dict[str, str], payload: dict[str, Any], actor: str
    ) -> StepResult:
        """Hand a verified incoming message (a callback) to the one instance that waits for it.

        The instance is found by the message name and every correlation value; a message that no
        instance waits for, or that matches several, is refused, never dropped silently.
        """
        if not correlations:
            raise InputError(_("message {name} carries no correlation", name=name))
        candidates: set[int] | None = None
        for key, value in correlations.items():
            found = set(
                session.scalars(
                    select(WaitingMessage.instance_id).where(
                        WaitingMessage.name == name,
                        WaitingMessage.correlation_key == key,
                        WaitingMessage.correlation_value == str(value),
                    )
                )
            )
            candidates = found if candidates is None else candidates & found
        if not candidates:
            raise NotFoundError(
                _("no case waits for message {name} with {correlations}", name=name, correlations=correlations)
            )
        if len(candidates) > 1:
            raise ConflictError(_("several cases wait for message {name} with {correlations}",
                                  name=name, correlations=correlations))  # fmt: skip
        instance = self._lock(session, candidates.pop())
        workflow, script_engine = self._load(session, instance)
        event = message_event(workflow, name, correlations, escape_reply(check_data_dict(payload)))
        if event is None:
            raise ConflictError(_("the case no longer waits for message {name}: {reason}", name=name, reason="-"))
        with step_errors(instance):
            try:
                workflow.send_event(event)
            except WorkflowException as exc:
                raise ConflictError(
                    _("the case no longer waits for message {name}: {reason}", name=name, reason=str(exc))
                ) from exc
        result = StepResult(instance)
        result.timeline.append(TimelineEntry("message_received", actor, detail=name, data={"payload": payload}))
        self._advance(session, instance, workflow, script_engine, result)
        return result

    def cancel(self, session: Session, instance_id: int, actor: str, reason: str) -> StepResult:
        """End a running instance where it stands (a case withdrawn by its applicant).

        Every unfinished task is cancelled; in the same transaction its ready human tasks are
        cancelled, pending calls are not sent any more, nothing waits for a message or a timer,
        and the instance completes with the outcome ``withdrawn``.
        """
        instance = self._lock(session, instance_id)
        if instance.status is InstanceStatus.COMPLETED:
            raise ConflictError(_("process instance {instance_id} has already ended", instance_id=instance_id))
        workflow, _script_engine = self._load(session, instance)
        workflow.cancel()
        result = StepResult(instance, actor=actor)
        cancel_abandoned_messages(session, instance, workflow, result)
        sync_waiting_messages(session, instance, workflow)
        sync_human_tasks(session, instance, workflow, result)
        instance.status = InstanceStatus.COMPLETED
        instance.outcome = WITHDRAWN
        instance.next_timer_due = None
        result.timeline.append(TimelineEntry("withdrawn", actor, detail=reason))
        instance.serialized = self.store.dumps(workflow)
        instance.serializer_version = SERIALIZER_VERSION
        instance.updated_at = utcnow()
        session.flush()
        self._notify(session, result)
        return result

    def mark_incident(self, session: Session, instance_id: int, detail: str) -> None:
        """Stop an instance whose step cannot be taken; an officer retries it once mended."""
        instance = self._lock(session, instance_id)
        if instance.status is not InstanceStatus.RUNNING:
            return
        instance.status = InstanceStatus.INCIDENT
        instance.updated_at = utcnow()
        result = StepResult(instance)
        result.timeline.append(TimelineEntry("incident", "system", detail=detail))
        self._notify(session, result)

    def wake_timers(self, session: Session, instance_id: int) -> StepResult | None:
        """Fire the due timers of one instance (called by the periodic sweep)."""
        instance = self._lock(session, instance_id)
        due = instance.next_timer_due
        if instance.status is InstanceStatus.COMPLETED or due is None or due > utcnow():
            return None
        workflow, script_engine = self._load(session, instance)
        waiting = {t.id for t in workflow.get_tasks(state=TaskState.WAITING)}
        with step_errors(instance):
            workflow.refresh_timers()
        if waiting == {t.id for t in workflow.get_tasks(state=TaskState.WAITING)}:
            # Nothing fired (a clock a little behind ours): look again later, never in a hot loop.
            instance.next_timer_due = max(next_timer(workflow) or due, utcnow() + timedelta(seconds=30))
            return None
        result = StepResult(instance)
        result.timeline.append(TimelineEntry("timer_fired", "system", detail=due.isoformat()))
        self._advance(session, instance, workflow, script_engine, result)
        return result

    def update_data(self, session: Session, instance_id: int, updates: dict[str, Any]) -> StepResult | None:
        """Set process variables on every open task of an instance, and read its date timers again.

        For the host's facts that change while a case waits: its due dates after a year's calendar is
        entered. A timer waiting on a date (``timeDate``) is evaluated anew with the new data (it may
        fire at once); duration timers keep their start. ``None`` when the instance has ended.
        """
        instance = self._lock(session, instance_id)
        if instance.status is InstanceStatus.COMPLETED:
            return None
        updates = check_data(updates, _("process data"))
        workflow, script_engine = self._load(session, instance)
        with step_errors(instance):
            # Every copy of the variables: a task inherits (merges) its parent's data when it is
            # updated, so an old value left on a finished ancestor would come back.
            for task in workflow.get_tasks():
                if not task.has_state(TaskState.FINISHED_MASK) or updates.keys() & task.data.keys():
                    task.data.update(updates)
                if task.state == TaskState.WAITING and isinstance(
                    getattr(task.task_spec, "event_definition", None), TimeDateEventDefinition
                ):
                    task.internal_data.pop("event_value", None)
        result = StepResult(instance)
        self._advance(session, instance, workflow, script_engine, result)
        return result

    # -- inside a step ---------------------------------------------------------------------------

    def _human_task(self, session: Session, task_id: str) -> HumanTask:
        human = session.get(HumanTask, task_id)
        if human is None:
            raise NotFoundError(_("no task {task_id}", task_id=task_id))
        return human

    def _ready_task(
        self, session: Session, task_id: str, *, lock: bool = True
    ) -> tuple[HumanTask, ProcessInstance, BpmnWorkflow, HuijuScriptEngine, Any]:
        """A ready human task with its (locked) instance and loaded workflow, or a clear conflict."""
        human = self._human_task(session, task_id)
        if lock:
            instance = self._lock(session, human.instance_id)
            session.refresh(human)
        else:
            instance = session.get(ProcessInstance, human.instance_id)  # type: ignore[assignment]
        if human.status is not HumanTaskStatus.READY:
            fields = {"task_id": task_id, "status": human.status.value}
            raise ConflictError(
                _("task {task_id} is already {status} by {user}", user=human.completed_by, **fields)
                if human.completed_by
                else _("task {task_id} is already {status}", **fields)
            )
        workflow, script_engine = self._load(session, instance)
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY:
            raise ConflictError(_("task {task_id} is not ready in its process", task_id=task_id))
        return human, instance, workflow, script_engine, task

    def _lock(self, session: Session, instance_id: int) -> ProcessInstance:
        stmt = select(ProcessInstance).where(ProcessInstance.id == instance_id)
        if session.get_bind().dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        instance = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
        if instance is None:
            raise NotFoundError(_("no process instance {instance_id}", instance_id=instance_id))
        return instance

    def _load(self, session: Session, instance: ProcessInstance) -> tuple[BpmnWorkflow, HuijuScriptEngine]:
        spec, subprocess_specs = self.cache.get_by_id(session, instance.definition_id)
        script_engine = HuijuScriptEngine(self.functions(session))
        workflow = self.store.loads(
            instance.serialized, instance.serializer_version, spec, subprocess_specs, script_engine
        )
        return workflow, script_engine

    def _fail_service_task(
        self, instance: ProcessInstance, task: Any, message: OutboxMessage, result: StepResult
    ) -> None:
        """Throw ``service_failed`` at the boundary of the task; with no catcher, raise an incident."""
        definition = ErrorEventDefinition(SERVICE_FAILED, code=SERVICE_FAILED)
        event = BpmnEvent(definition, payload={"operation": message.operation, "error": message.last_error})
        catchers = boundary_catchers(task, event)
        step, step_name = message.reply_to.get("step"), message.reply_to.get("step_name")
        detail = f"{message.operation}: {message.last_error}"
        if catchers:
            with step_errors(instance):
                for catcher in catchers:
                    catcher.task_spec.catch(catcher, event)
                    catcher.task_spec._update(catcher)
            result.timeline.append(
                TimelineEntry("service_failed", "system", step, step_name, message.system, detail=detail,
                              data={"message_id": message.message_id, "caught": True})
            )  # fmt: skip
        else:
            instance.status = InstanceStatus.INCIDENT
            result.timeline.append(
                TimelineEntry("incident", "system", step, step_name, message.system, detail=detail,
                              data={"message_id": message.message_id, "caught": False})
            )  # fmt: skip

    def _advance(
        self,
        session: Session,
        instance: ProcessInstance,
        workflow: BpmnWorkflow,
        script_engine: HuijuScriptEngine,
        result: StepResult,
    ) -> None:
        with step_errors(instance):
            workflow.do_engine_steps()
        write_service_requests(session, instance, script_engine, result)
        cancel_abandoned_messages(session, instance, workflow, result)
        sync_waiting_messages(session, instance, workflow)
        sync_human_tasks(session, instance, workflow, result)
        if workflow.completed:
            instance.status = InstanceStatus.COMPLETED
            instance.outcome = outcome_of(workflow)
            instance.next_timer_due = None
            result.timeline.append(TimelineEntry("process_completed", "system", detail=instance.outcome or ""))
        else:
            instance.next_timer_due = next_timer(workflow)
        instance.serialized = self.store.dumps(workflow)
        instance.serializer_version = SERIALIZER_VERSION
        instance.updated_at = utcnow()
        session.flush()
        self._notify(session, result)
        self._dispatch_after_commit(session, [m.message_id for m in result.messages])

    def _notify(self, session: Session, result: StepResult) -> None:
        for listener in self.listeners:
            listener(session, result)

    def _dispatch_after_commit(self, session: Session, message_ids: list[str]) -> None:
        if not message_ids or self.dispatch is None:
            return
        dispatch = self.dispatch

        def send(_session: Session) -> None:
            try:
                dispatch(message_ids)
            except Exception:  # the sweeper sends it later; a broker hiccup must not fail the step
                log.warning("could not hand messages %s to the broker; the sweeper will", message_ids)

        sa_event.listen(session, "after_commit", send, once=True)
