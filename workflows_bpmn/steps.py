"""What a runner step needs around SpiffWorkflow: reading results, catching errors, guarding data.

Kept apart from :mod:`workflows_bpmn.runner` so that the runner reads as the sequence of a step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState

from huiju.errors import HuijuError, InputError, StepError
from huiju.i18n import Message, _
from workflows_bpmn.models import ProcessInstance

log = logging.getLogger(__name__)
_TIMER_TYPES = frozenset(cls.__name__ for cls in TimerEventDefinition.__subclasses__())


def outcome_of(workflow: BpmnWorkflow) -> str | None:
    ends = [
        t for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if isinstance(t.task_spec, EndEvent) and t.workflow is workflow
    ]  # fmt: skip
    for task in sorted(ends, key=lambda t: t.last_state_change, reverse=True):
        outcome = task.task_spec.extensions.get("properties", {}).get("outcome")
        if outcome:
            return str(outcome)
    return None


def next_timer(workflow: BpmnWorkflow, events: list[Any] | None = None) -> datetime | None:
    """The earliest time a timer of the instance is due (``events``: its waiting events, if known)."""
    due: list[datetime] = []
    for pending in workflow.waiting_events() if events is None else events:
        if pending.event_type not in _TIMER_TYPES:
            continue
        if isinstance(pending.value, str):
            # Read exactly as SpiffWorkflow reads it when it decides whether the timer fired
            # (a naive time is in the server's zone, not UTC).
            try:
                due.append(TimerEventDefinition.parse_time_or_duration(pending.value))
            except (ValueError, TypeError):
                log.warning("timer value %r cannot be read; it is left to the library", pending.value)
    return min(due) if due else None


def boundary_catchers(task: Any, event: BpmnEvent) -> list[Any]:
    """Boundary events that catch ``event`` on the task, or else on the nearest enclosing
    subprocess that has one (BPMN error propagation)."""
    current = task
    while current is not None:
        parent = current.parent
        catchers = [
            t for t in (parent.children if parent else [])
            if t is not current and t.state == TaskState.WAITING and t.task_spec.catches(t, event)
        ]  # fmt: skip
        if catchers:
            return catchers
        workflow = current.workflow
        parent_id = getattr(workflow, "parent_task_id", None)
        current = workflow.top_workflow.get_task_from_id(parent_id) if parent_id is not None else None
    return []


@contextmanager
def step_errors(instance: ProcessInstance) -> Iterator[None]:
    """Turn anything a step raises into a :class:`StepError` that names the instance.

    A step runs model expressions on data from outside (forms, replies): what fails there is a
    property of this instance, reported as such, never a bare library exception.
    """
    try:
        yield
    except HuijuError:
        raise
    except Exception as exc:
        cause = _huiju_cause(exc)
        reason = cause.message if cause is not None else f"{type(exc).__name__}: {exc}"
        if instance.id is None:  # starting: there is no instance yet, and will be none
            raise StepError(
                _("process {process_id} cannot start: {reason}", process_id=instance.process_id, reason=reason)
            ) from exc
        raise StepError(
            _("case process #{instance} cannot take this step: {reason}", instance=instance.id, reason=reason)
        ) from exc


def _huiju_cause(exc: BaseException) -> HuijuError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, HuijuError):
            return current
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None


RESERVED_KEY = "typename"  # SpiffWorkflow's serializer reads a dict holding it as a stored object


def check_data(value: Any, what: Message) -> Any:
    """Refuse data that would corrupt the stored state when it is loaded again."""
    if isinstance(value, dict):
        if RESERVED_KEY in value:
            raise InputError(_("{what} may not hold a field named 'typename'", what=what))
        for item in value.values():
            check_data(item, what)
    elif isinstance(value, list):
        for item in value:
            check_data(item, what)
    return value


def check_data_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(_("a message payload must be an object"))
    return value


def escape_reply(value: Any) -> Any:
    """A reply from outside keeps its content, but a 'typename' key is renamed (see check_data)."""
    if isinstance(value, dict):
        return {(f"{k}_" if k == RESERVED_KEY else k): escape_reply(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_reply(v) for v in value]
    return value


def waiting_message_correlations(
    workflow: BpmnWorkflow, events: list[Any] | None = None
) -> list[tuple[str, dict[str, str]]]:
    """(message name, {correlation property: value}) of every message event the instance waits for.

    SpiffWorkflow keeps correlations per correlation key as {key: {property: value}}; a host finds
    an instance by property values, so they are flattened to the message's own properties.
    """
    found = []
    for pending in workflow.waiting_events() if events is None else events:
        if pending.event_type != "MessageEventDefinition":
            continue
        values: dict[str, str] = {}
        for prop in pending.value or []:
            for key in prop.correlation_keys:
                value = (pending.correlations or {}).get(key, {}).get(prop.name)
                if value is not None:
                    values[prop.name] = str(value)
        found.append((pending.name, values))
    return found


def message_event(
    workflow: BpmnWorkflow, name: str, by_property: dict[str, str], payload: dict[str, Any]
) -> BpmnEvent | None:
    """The event that delivers message ``name`` to the task waiting for it, or None if none waits.

    It uses the waiting task's own event definition (SpiffWorkflow matches by class and name) and
    the correlations in the library's shape, built from the given property values.
    """
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if definition is None or getattr(definition, "name", None) != name:
            continue
        if type(definition).__name__ != "MessageEventDefinition":
            continue
        correlations: dict[str, dict[str, str]] = {}
        for prop in definition.correlation_properties:
            if prop.name in by_property:
                for key in prop.correlation_keys:
                    correlations.setdefault(key, {})[prop.name] = by_property[prop.name]
        return BpmnEvent(definition, payload, correlations)
    return None


def _properties(task: Any) -> dict[str, str]:
    return dict(task.task_spec.extensions.get("properties", {}))


def _return_targets(task: Any) -> list[Any]:
    """Completed user tasks on the path to ``task`` marked ``return_target``, latest run last."""
    found: list[Any] = []
    ancestor = task.parent
    while ancestor is not None:
        if (
            ancestor.task_spec.manual
            and ancestor.state == TaskState.COMPLETED
            and _properties(ancestor).get("return_target") == "true"
            and ancestor.task_spec.bpmn_id != task.task_spec.bpmn_id
        ):
            found.append(ancestor)
        ancestor = ancestor.parent
    return found[::-1]


def passed_steps(workflow: Any, task: Any) -> list[tuple[str, str]]:
    """(step id, name) of the user steps ``task`` may be returned to (退回), earliest first."""
    steps: dict[str, str] = {}
    for passed in _return_targets(task):
        steps.setdefault(passed.task_spec.bpmn_id, passed.task_spec.bpmn_name or passed.task_spec.bpmn_id)
    return list(steps.items())


def latest_passed_step(workflow: Any, task: Any, step: str) -> Any | None:
    """The latest run of ``step`` that ``task`` may be returned to, or ``None``."""
    runs = [t for t in _return_targets(task) if t.task_spec.bpmn_id == step]
    return runs[-1] if runs else None


def interrupting_timer_due(task: Any) -> datetime | None:
    """When an interrupting timer on ``task``'s boundary ends it (the resident's 30 days to answer a
    补正): the step's own time limit, or ``None`` when it has no such timer."""
    due: list[datetime] = []
    for sibling in task.parent.children if task.parent else []:
        spec = sibling.task_spec
        definition = getattr(spec, "event_definition", None)
        if sibling is task or not isinstance(definition, TimerEventDefinition):
            continue
        if not getattr(spec, "cancel_activity", False) or sibling.state != TaskState.WAITING:
            continue
        value = sibling.internal_data.get("event_value")
        if isinstance(value, str):
            try:
                due.append(TimerEventDefinition.parse_time_or_duration(value))
            except (ValueError, TypeError):
                log.warning("timer value %r cannot be read", value)
    return min(due) if due else None
