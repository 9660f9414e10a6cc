"""Saving and loading workflow state, with a version and named migrations.

The stored JSON holds the task tree and data but not the process spec: the spec belongs to the
deployed definition and is re-attached from :class:`~workflows_bpmn.definitions.SpecCache` on load
(less than half the size, and loading takes less than half the time).

Two versions describe a stored state, as in SpiffWorkflow's own ``bpmn/serializer/migration/``:

- the row's ``serializer_version`` is Huiju's: the layout of what the engine stores around the
  library's dictionary (:data:`SERIALIZER_VERSION`). Older layouts are brought up to date on load
  by the named functions of :mod:`workflows_bpmn.state_migrations`; an unknown one is refused
  rather than misread;
- inside the JSON, ``serializer_version`` is the library's, which its own migrations read, so that a
  future SpiffWorkflow upgrades the task trees it recognises.

An instance that has ended keeps no task tree (nothing ever steps it again): :meth:`dumps` stores
only a summary of how it ended — the process data, the steps passed and the outcome — which is
a tenth of the size (see :func:`concluded_summary`).

The JSON is written by orjson, through the library's encoder seam (:class:`CompactEncoder`): about
seven times faster than the standard library at a step's save (0.04 ms against 0.25 ms for a
running subsidy case), and the same text. What orjson does not know (a Decimal, a
date, a library event) it hands to the library's ``default``, which converts it with the registry;
what it cannot write (an integer beyond 64 bits) the standard library writes instead. A UUID in
task data would be stored as its text (Huiju puts none there).

The JSON is stored compressed (DEFLATE in the zlib container, RFC 1950, at its fastest level): a
running subsidy case's 16 KB of JSON becomes about 3 KB, so that each step rewrites one database
page instead of an overflow chain (about 0.3 ms of each commit on SQLite). :meth:`WorkflowStore.text`
gives the JSON back for reading.
"""

from __future__ import annotations

import json
import zlib
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast
from uuid import UUID
from weakref import WeakKeyDictionary

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from huiju.db import ORJSON_OPTIONS
from huiju.errors import WorkflowError
from workflows_bpmn.specs import AsyncServiceTask
from workflows_bpmn.state_migrations import LIBRARY_VERSION, SERIALIZER_VERSION, migrate

__all__ = [
    "CONCLUDED_KEY",
    "LIBRARY_VERSION",
    "SERIALIZER_VERSION",
    "WorkflowStore",
    "concluded_summary",
    "forget_saved",
]

#: The key of a concluded instance's summary (it has no task tree).
CONCLUDED_KEY = "concluded"
#: zlib's fastest level: the state is written at every step and read only when not cached.
COMPRESSION_LEVEL = 1


class SpecRefWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Leaves the spec out of the dictionary and takes it back from the caller on restore."""

    def mapping_to_dict(self, mapping: Any, **kwargs: Any) -> dict[str, Any]:
        """The library's, with task ids as text from :func:`_text` (the tasks are keyed by id)."""
        return {_text(k) if isinstance(k, UUID) else str(k): self.registry.convert(v, **kwargs)
                for k, v in mapping.items()}  # fmt: skip

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(
        self, dct: dict[str, Any], spec: Any = None, subprocess_specs: dict[str, Any] | None = None
    ) -> BpmnWorkflow:
        if spec is None:
            raise WorkflowError("a stored workflow needs its deployed spec to be loaded")
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


@lru_cache(maxsize=16384)
def _text(task_id: UUID) -> str:
    """A task id as text, made once per process (``str(UUID)`` is the largest single cost of
    saving a state: about 140 per step of a subsidy case)."""
    return str(task_id)


#: A finished task's dictionary as last saved, with what it was made of (see TaskTextConverter).
_SAVED: WeakKeyDictionary[Task, tuple[tuple[Any, ...], dict[str, Any]]] = WeakKeyDictionary()


def forget_saved(workflow: BpmnWorkflow) -> None:
    """Drop the saved dictionaries of a workflow's tasks: for code that changes what a finished task
    holds without changing its state (the engine's ``update_data``)."""
    for task in workflow.get_tasks():
        _SAVED.pop(task, None)
    for sub in workflow.subprocesses.values():
        for task in sub.get_tasks():
            _SAVED.pop(task, None)


class TaskTextConverter(TaskConverter):  # type: ignore[misc]
    """The library's task dictionary, the same keys and values, with task ids as text from
    :func:`_text`; a task whose children are not all in the workflow is left to the library.

    A finished task does not change until its state does (a reset, a return): its dictionary is made
    once and given again while its state, the time of that state, its spec, its parent and its
    children are the same — the difference between its data and its parent's is most of what a
    save costs, and most tasks of a running case have finished. The one change the engine makes to
    finished tasks in place (variables set on a waiting case) calls :func:`forget_saved`.
    """

    def to_dict(self, task: Task) -> dict[str, Any]:
        children = task.children
        if any(child is None for child in children):
            return cast(dict[str, Any], super().to_dict(task))
        if not task.has_state(TaskState.FINISHED_MASK):
            return self._made(task, children)
        parent = task.parent  # ids, not tasks: a saved entry must not keep another task alive
        key = (task.state, task.last_state_change, task.task_spec.name, parent.id if parent else None,
               *(child.id for child in children))  # fmt: skip
        saved = _SAVED.get(task)
        if saved is not None and saved[0] == key:
            return saved[1]
        made = self._made(task, children)
        _SAVED[task] = (key, made)
        return made

    def _made(self, task: Task, children: list[Task]) -> dict[str, Any]:
        parent = task.parent
        if parent is None:
            data, delta = task.data, {}
        else:
            data = {}
            delta = {
                "updates": DeepMerge.get_updated_keys(parent.data, task.data),
                "deletions": DeepMerge.get_deleted_keys(parent.data, task.data),
            }
        return {
            "id": _text(task.id),
            "parent": _text(parent.id) if parent is not None else None,
            "children": [_text(child.id) for child in children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }


class CompactEncoder(json.JSONEncoder):
    """The library's encoder base (its ``json_encoder_cls`` seam), writing compact UTF-8 JSON:
    Chinese text as itself, not six-byte escapes, and no spaces. orjson writes it, with this
    encoder's ``default`` (the library's, on the class it derives from this one) for the objects
    orjson does not know; the standard library writes what orjson refuses."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(ensure_ascii=False, separators=(",", ":"))
        super().__init__(**kwargs)

    def encode(self, o: Any) -> str:
        try:
            return orjson.dumps(o, default=self.default, option=ORJSON_OPTIONS).decode("utf-8")
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, say
            return super().encode(o)

    def default(self, o: Any) -> Any:
        if isinstance(o, set | frozenset):
            return sorted(o, key=str)
        return super().default(o)


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpecRefWorkflowConverter
    config[AsyncServiceTask] = ServiceTaskConverter
    config[Task] = TaskTextConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Task data is JSON in the end; these types come back from DMN outputs and adapters.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    registry.register(datetime, lambda v: {"value": v.isoformat()}, lambda d: datetime.fromisoformat(d["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    return BpmnWorkflowSerializer(registry, version=LIBRARY_VERSION, json_encoder_cls=CompactEncoder)


def concluded_summary(workflow: BpmnWorkflow) -> dict[str, Any]:
    """What is kept of an ended instance: its data at the end, the steps it passed, in order, and
    whether it ended normally. Enough to audit the case; never loaded as a workflow again."""
    finished = [
        t for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if t.workflow is workflow and getattr(t.task_spec, "bpmn_id", None)
    ]  # fmt: skip
    finished.sort(key=lambda t: t.last_state_change)
    ends = [t for t in finished if isinstance(t.task_spec, EndEvent)]
    data = dict(ends[-1].data) if ends else dict(workflow.data)
    return {
        "data": data,
        "steps": [t.task_spec.bpmn_id for t in finished],
        "success": bool(workflow.success),
    }


class WorkflowStore:
    """Turns a workflow into stored text and back (one per process; the serializer is reusable)."""

    def __init__(self) -> None:
        self.serializer = _build_serializer()

    def dumps(self, workflow: BpmnWorkflow, *, concluded: bool = False) -> bytes:
        """The stored state: the task tree, or with ``concluded`` only the summary of the end."""
        if concluded:
            summary = self.serializer.registry.convert(concluded_summary(workflow))
            document = {BpmnWorkflowSerializer.VERSION_KEY: LIBRARY_VERSION, CONCLUDED_KEY: summary}
            text = json.dumps(document, cls=CompactEncoder)
        else:
            text = self.serializer.serialize_json(workflow)
        return zlib.compress(text.encode("utf-8"), COMPRESSION_LEVEL)

    @staticmethod
    def text(stored: bytes | str) -> str:
        """The JSON of a stored state (text stored before states were compressed is returned as is)."""
        if isinstance(stored, str):
            return stored
        try:
            return zlib.decompress(stored).decode("utf-8")
        except (zlib.error, UnicodeDecodeError) as exc:
            raise WorkflowError(f"stored workflow state is not compressed JSON: {exc}") from exc

    def loads(
        self, stored: bytes | str, version: str, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any
    ) -> BpmnWorkflow:
        dct = orjson.loads(self.text(stored))
        dct = migrate(dct, version)
        if CONCLUDED_KEY in dct:
            raise WorkflowError("the process has ended: its stored state is a summary, not a task tree")
        self.serializer.migrate(dct)  # the library's own migrations, by the version inside
        workflow: BpmnWorkflow = self.serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
        workflow.script_engine = script_engine
        return workflow
