"""What an administrator does to a running instance, each one an :meth:`Engine.step`:

- **suspend** (中止) and **resume**: a suspended instance fires no timer and sends no call (its
  pending outbox messages are held, see :func:`exchange.outbox.hold`); its tasks cannot be decided;
  a reply or a callback that arrives is taken in, but the process moves on only once resumed;
- **move** a stuck instance to another step (流程跳转): the branch it stands on is cut where it
  stands and started again at the chosen step, with the data it had; what it waited for (a task, a
  call, a timer, a message) is cancelled and mirrored as such;
- **migrate** an instance to another version of its process (版本迁移), where every step it stands
  on and every step it passed still exists in that version (SpiffWorkflow's ``SpecDiff`` aligns the
  two versions' steps by id, then by structure): :func:`check_migration` says whether it can and
  why not, without changing anything (the dry run); :func:`migrate` does it.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from exchange import outbox
from exchange.models import OutboxMessage
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.i18n import Message, _
from workflows_bpmn.mirror import StepResult, TimelineEntry
from workflows_bpmn.models import (
    DefinitionKind,
    HumanTask,
    HumanTaskStatus,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
)
from workflows_bpmn.serialization import SERIALIZER_VERSION
from workflows_bpmn.steps import step_errors
from workflows_bpmn.validation import lane_role

if TYPE_CHECKING:
    from workflows_bpmn.runner import Engine

ACTIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING
_NOT_STARTED = TaskState.FUTURE | TaskState.PREDICTED_MASK
#: Kinds of step an instance may be moved to: activities and the events it can wait at.
_NOT_TARGETS = ("StartEvent", "EndEvent", "BoundaryEvent")

# -- suspend and resume ------------------------------------------------------------------------


def suspend(
    engine: Engine, session: Session, instance_id: int, actor: str, reason: str, data: dict[str, Any] | None = None
) -> StepResult:
    """Hold a running instance (or one in incident) where it stands; ``data`` goes with the timeline
    entry (what the host wants back when it resumes)."""
    reason = _reason(reason)
    with engine.step(session, instance_id, actor=actor) as step:
        instance = step.instance
        if instance.status is InstanceStatus.COMPLETED:
            raise ConflictError(_("process instance {instance_id} has already ended", instance_id=instance_id))
        if instance.status is InstanceStatus.SUSPENDED:
            raise ConflictError(_("the case is already suspended"))
        instance.suspended_from = instance.status.value
        instance.status = InstanceStatus.SUSPENDED
        held = outbox.hold(session, instance_id)
        step.result.timeline.append(
            TimelineEntry("suspended", actor, detail=reason, data={**(data or {}), "held": held})
        )
    return step.result


def resume(engine: Engine, session: Session, instance_id: int, actor: str, reason: str) -> StepResult:
    """Let a suspended instance go on: its held calls are sent, its due timers fire (the sweep), and
    what arrived meanwhile moves it on now."""
    reason = _reason(reason)
    with engine.step(session, instance_id, actor=actor) as step:
        instance = step.instance
        if instance.status is not InstanceStatus.SUSPENDED:
            raise ConflictError(_("the case is not suspended"))
        instance.status = InstanceStatus(instance.suspended_from or InstanceStatus.RUNNING.value)
        instance.suspended_from = None
        released = outbox.release(session, instance_id)
        if released:  # handed to the broker after commit, and they tell the case's status
            step.result.messages.extend(
                session.scalars(select(OutboxMessage).where(OutboxMessage.message_id.in_(released)))
            )
        step.changed()
        step.result.timeline.append(TimelineEntry("resumed", actor, detail=reason, data={"released": released}))
    return step.result


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InputError(_("give a reason: it is kept in the case's timeline and the audit trail"), field="reason")
    return reason[:500]


# -- where an instance stands, and moving it ----------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A step of a process: where an instance stands, or where it may be moved."""

    step: str  # the BPMN element id
    name: str
    kind: str  # the SpiffWorkflow spec class (UserTask, ServiceTask, ReceiveTask, ...)
    lane: str | None = None


def _place(spec: Any) -> Place:
    return Place(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, type(spec).__name__, getattr(spec, "lane", None))


def positions(workflow: BpmnWorkflow) -> list[Place]:
    """The steps of the top-level process an instance stands on now (a call activity or sub-process
    counts as one step while it runs)."""
    return [_place(task.task_spec) for task in _tokens(workflow)]


def _tokens(workflow: BpmnWorkflow) -> list[Any]:
    found = []
    for task in workflow.get_tasks(state=ACTIVE, skip_subprocesses=True):
        spec = task.task_spec
        if getattr(spec, "bpmn_id", None) is None or type(spec).__name__ == "BoundaryEvent":
            continue  # internal specs; a boundary event waits beside the activity that stands
        found.append(task)
    return found


def move_targets(workflow: BpmnWorkflow) -> list[Place]:
    """The steps of the top-level process an instance may be moved to."""
    places = [
        _place(spec) for spec in workflow.spec.task_specs.values()
        if getattr(spec, "bpmn_id", None) is not None and type(spec).__name__ not in _NOT_TARGETS
        and not type(spec).__name__.endswith("Gateway")
    ]  # fmt: skip
    return sorted(places, key=lambda p: p.step)


def move(
    engine: Engine, session: Session, instance_id: int, actor: str, *, to_step: str, reason: str,
    from_step: str | None = None,
) -> StepResult:  # fmt: skip
    """Cut the branch that stands on ``from_step`` (the only one, if the instance stands on one) and
    start it again at ``to_step`` with the data it had. An instance in incident runs again."""
    reason = _reason(reason)
    with engine.step(session, instance_id, actor=actor) as step:
        instance = step.instance
        if instance.status is InstanceStatus.COMPLETED:
            raise ConflictError(_("process instance {instance_id} has already ended", instance_id=instance_id))
        workflow = step.workflow
        targets = {place.step: place for place in move_targets(workflow)}
        if to_step not in targets:
            raise InputError(_("'{step}' is not a step the case can be moved to", step=to_step), field="to_step")
        tokens = _tokens(workflow)
        chosen = [t for t in tokens if from_step is None or t.task_spec.bpmn_id == from_step]
        if not chosen:
            raise InputError(_("the case does not stand on step '{step}'", step=from_step or "-"), field="from_step")
        if len(chosen) > 1:
            raise InputError(
                _("the case stands on several steps ({steps}): say which one to move",
                  steps=", ".join(t.task_spec.bpmn_id for t in chosen)),
                field="from_step",
            )  # fmt: skip
        token = chosen[0]
        before = _place(token.task_spec)
        with step_errors(instance):
            _restart_branch(workflow, token, to_step)
        step.changed()
        if instance.status is InstanceStatus.INCIDENT:
            instance.status = InstanceStatus.RUNNING
            instance.incident_kind = instance.incident_detail = None
        target = targets[to_step]
        step.result.timeline.append(
            TimelineEntry("moved", actor, target.step, target.name, detail=reason,
                          data={"from_step": before.step, "from_step_name": before.name, "to_step": target.step})
        )  # fmt: skip
    return step.result


def _restart_branch(workflow: BpmnWorkflow, token: Any, to_step: str) -> None:
    """Replace the branch under ``token`` by a new task of the step (of its boundary-event split when
    it has boundary events), a child of the same completed parent, carrying the token's data."""
    handle = token.parent if isinstance(token.parent.task_spec, BoundaryEventSplit) else token
    data = deepcopy(token.data)
    specs = workflow.spec.task_specs
    entry = specs.get(f"{to_step}.BoundaryEventSplit") or specs[to_step]
    gone = list(handle)  # the handle and everything under it
    for task in gone:
        if task.id in workflow.subprocesses:
            workflow.delete_subprocess(task)
    parent = handle.parent
    workflow._remove_task(handle.id)
    for task in gone:  # SpiffWorkflow 3.2 leaves removed waiting events in the event manager
        workflow.event_manager.remove_task(task)
    moved = parent._add_child(entry, TaskState.FUTURE)
    entry._predict(moved, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)  # as Task.reset_branch does
    entry._update(moved)
    moved.data = data  # inheriting would put the parent's older values over the token's
    workflow.last_task = parent


# -- migrating to another version ----------------------------------------------------------------


@dataclass
class MigrationCheck:
    """Whether an instance can move to another version, and why not; what changes for it."""

    instance_id: int
    from_version: int
    to_version: int
    positions: list[Place] = field(default_factory=list)
    refusals: list[Message] = field(default_factory=list)
    changes: list[Message] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return not self.refusals


#: What a changed step's differences are called (SpiffWorkflow spec attributes), in words.
ASPECTS: dict[str, Message] = {
    "bpmn_name": _("name"),
    "lane": _("lane"),
    "extensions": _("properties"),
    "outputs": _("what follows"),
    "operation_name": _("service operation"),
    "operation_params": _("parameters"),
    "event_definition": _("event"),
    "cond_task_specs": _("conditions"),
    "default_task_spec": _("default flow"),
    "typename": _("kind of step"),
    "documentation": _("documentation"),
}


def _aspect_order(key: str) -> tuple[int, str]:
    order = list(ASPECTS)
    return (order.index(key) if key in order else len(order), key)


def _aspect(key: str) -> Message:
    return ASPECTS.get(key) or _("{aspect}", aspect=key)


def target_definition(session: Session, instance: ProcessInstance, definition_id: int) -> ProcessDefinition:
    target = session.get(ProcessDefinition, definition_id)
    if target is None or target.kind is not DefinitionKind.BPMN or target.process_id != instance.process_id:
        raise NotFoundError(
            _("no version {definition_id} of process '{process_id}'", definition_id=definition_id,
              process_id=instance.process_id)
        )  # fmt: skip
    return target


def _step_words(spec: Any) -> str:
    ident = getattr(spec, "bpmn_id", None) or str(spec.name).split(".")[0]
    name = getattr(spec, "bpmn_name", None)
    return f"{name} ({ident})" if name and name != ident else str(ident)


def _diff_refusals(
    workflow: Any, diff: SpecDiff, version: int, within: str | None, check: MigrationCheck
) -> dict[Any, Any]:
    """Refusals for the tasks whose steps the new version lacks; the alignment of the others."""
    alignment: dict[Any, Any] = {}
    changed = diff.changed
    prefix = f"{within}: " if within else ""
    for task in workflow.get_tasks(skip_subprocesses=True):
        new = diff.alignment.get(task.task_spec)
        if new is not None:
            alignment[task.task_spec] = new
            # What precedes a step no longer matters to a case standing on it.
            aspects = [k for k in changed.get(task.task_spec, []) if k != "inputs"]
            if task.has_state(ACTIVE) and aspects and getattr(task.task_spec, "bpmn_id", None):
                check.changes.append(
                    _("{within}step {step} changed: {aspects}", within=prefix, step=_step_words(task.task_spec),
                      aspects=_ListOf([_aspect(k) for k in sorted(aspects, key=_aspect_order)]))
                )  # fmt: skip
            continue
        if task.has_state(_NOT_STARTED) and task.parent is not None and task.parent.has_state(ACTIVE | _NOT_STARTED):
            continue  # not started: predicted again from the new version
        if task.has_state(ACTIVE):
            check.refusals.append(
                _("{within}it stands on step {step}, which version {version} does not have", within=prefix,
                  step=_step_words(task.task_spec), version=version)
            )  # fmt: skip
        else:
            check.refusals.append(
                _("{within}it passed step {step}, which version {version} does not have: its history would be lost",
                  within=prefix, step=_step_words(task.task_spec), version=version)
            )  # fmt: skip
    return alignment


class _ListOf(Message):
    """Messages joined with semicolons, each in the reader's language (a parameter of a message)."""

    __slots__ = ("items",)

    def __init__(self, items: list[Message]) -> None:
        super().__init__("{items}")
        self.items = items

    def localize(self, locale: str | None = None) -> str:
        return "; ".join(item.localize(locale) for item in self.items)


def _plan(engine: Engine, workflow: BpmnWorkflow, spec: Any, deps: dict[str, Any], check: MigrationCheck) -> Any:
    """Check the workflow against the new spec; the plan of what to re-point, or None if refused."""
    registry = engine.store.serializer.registry
    plan = [(workflow, spec, _diff_refusals(workflow, SpecDiff(registry, workflow.spec, spec), check.to_version,
                                            None, check))]  # fmt: skip
    for sub_id, sub in workflow.subprocesses.items():
        new_sub = deps.get(sub.spec.name)
        owner = workflow.get_task_from_id(sub_id)
        within = _step_words(owner.task_spec) if owner is not None else sub.spec.name
        if new_sub is None:
            check.refusals.append(
                _("it runs {step}, which version {version} does not call", step=within, version=check.to_version)
            )
            continue
        plan.append((sub, new_sub, _diff_refusals(sub, SpecDiff(registry, sub.spec, new_sub), check.to_version,
                                                  within, check)))  # fmt: skip
    return plan if check.movable else None


def _apply(workflow: BpmnWorkflow, deps: dict[str, Any], plan: Any) -> None:
    """Re-point every task at its step of the new version, drop what was only predicted, predict again."""
    workflow.subprocess_specs = deps
    for flow, spec, alignment in plan:
        flow.spec = spec
        for task in list(flow.tasks.values()):
            if task.task_spec in alignment:
                task.task_spec = alignment[task.task_spec]
        # What hangs below an active task is only its prediction (children not started): built again
        # from the new version's outputs.
        for task in list(flow.tasks.values()):
            if task.id in flow.tasks and task.has_state(_NOT_STARTED) and task.parent is not None \
                    and task.parent.has_state(ACTIVE):  # fmt: skip
                flow._remove_task(task.id)
        flow._predict()


def check_migration(engine: Engine, session: Session, instance_id: int, definition_id: int) -> MigrationCheck:
    """The dry run: whether the instance can move to that version, and why not (nothing is written).
    The migrated state is saved and loaded again in memory, as the real migration will."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFoundError(_("no process instance {instance_id}", instance_id=instance_id))
    target = target_definition(session, instance, definition_id)
    check = MigrationCheck(instance_id, instance.definition.version, target.version)
    if target.id == instance.definition_id:
        check.refusals.append(_("it already runs on version {version}", version=target.version))
        return check
    if instance.status is InstanceStatus.COMPLETED:
        check.refusals.append(_("it has ended"))
        return check
    workflow = engine.load(session, instance_id)
    check.positions = positions(workflow)
    spec, deps = engine.cache.get_by_id(session, target.id)
    plan = _plan(engine, workflow, spec, deps, check)
    if plan is None:
        return check
    try:
        _apply(workflow, deps, plan)
        engine.store.loads(engine.store.dumps(workflow), SERIALIZER_VERSION, spec, deps, workflow.script_engine)
    except Exception as exc:  # a state the new version cannot hold: say so, never half-migrate
        error = f"{type(exc).__name__}: {exc}"[:300]
        check.refusals.append(_("its state does not fit version {version}: {error}", version=target.version,
                                error=error))  # fmt: skip
    return check


def migrate(engine: Engine, session: Session, instance_id: int, definition_id: int, actor: str) -> StepResult:
    """Move the instance to another version of its process, or refuse with every reason."""
    with engine.step(session, instance_id, actor=actor) as step:
        instance = step.instance
        if instance.status is InstanceStatus.COMPLETED:
            raise ConflictError(_("process instance {instance_id} has already ended", instance_id=instance_id))
        target = target_definition(session, instance, definition_id)
        old = session.get(ProcessDefinition, instance.definition_id)
        check = MigrationCheck(instance_id, old.version if old else 0, target.version)
        if target.id == instance.definition_id:
            raise ConflictError(_("it already runs on version {version}", version=target.version))
        workflow = step.workflow
        spec, deps = engine.cache.get_by_id(session, target.id)
        plan = _plan(engine, workflow, spec, deps, check)
        if plan is None:
            raise ConflictError(
                _("the case cannot move to version {version}: {reasons}", version=target.version,
                  reasons=_ListOf(check.refusals)),
                refusals=check.refusals,
            )  # fmt: skip
        with step_errors(instance):  # a failure rolls everything back; the step never caches a failed workflow
            _apply(workflow, deps, plan)
        instance.definition_id = target.id
        step.changed()
        _refresh_ready_tasks(session, instance, workflow)
        step.result.timeline.append(
            TimelineEntry("migrated", actor, detail=f"{check.from_version} → {target.version}",
                          data={"from_version": check.from_version, "to_version": target.version,
                                "changes": [str(c) for c in check.changes]})
        )  # fmt: skip
    return step.result


def _refresh_ready_tasks(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """Ready human tasks keep their rows (and ids) across a migration: their words, decisions and
    role are those of the new version's step."""
    ready = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == HumanTaskStatus.READY)
    ).all()
    for human in ready:
        task = workflow.get_task_from_id(_uuid(human.id))
        if task is None:
            continue
        spec = task.task_spec
        properties = dict(spec.extensions.get("properties", {}))
        values: dict[str, Any] = {
            "step": spec.bpmn_id,
            "name": spec.bpmn_name or spec.bpmn_id,
            "lane": spec.lane,
            "role": lane_role(spec.lane) or human.role,
            "decisions": [d.strip() for d in properties.get("decisions", "").split(",") if d.strip()],
            "properties": properties,
        }
        session.execute(update(HumanTask).where(HumanTask.id == human.id).values(**values))


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)
