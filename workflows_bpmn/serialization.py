"""Saving and loading workflow state.

The stored JSON holds the task tree and data but not the process spec: the spec belongs to the
deployed definition and is re-attached from :class:`~workflows_bpmn.definitions.SpecCache` on load
(less than half the size, and loading takes less than half the time). The serializer version is
stored beside the state, so that a future library upgrade can migrate rows it recognises and refuse
the rest instead of misreading them.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter

from huiju.errors import WorkflowError
from workflows_bpmn.specs import AsyncServiceTask

SERIALIZER_VERSION = "1.5"


class SpecRefWorkflowConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Leaves the spec out of the dictionary and takes it back from the caller on restore."""

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


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpecRefWorkflowConverter
    config[AsyncServiceTask] = ServiceTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Task data is JSON in the end; these types come back from DMN outputs and adapters.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
    registry.register(datetime, lambda v: {"value": v.isoformat()}, lambda d: datetime.fromisoformat(d["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda d: date.fromisoformat(d["value"]))
    return BpmnWorkflowSerializer(registry, version=SERIALIZER_VERSION)


class WorkflowStore:
    """Turns a workflow into stored text and back (one per process; the serializer is reusable)."""

    def __init__(self) -> None:
        self.serializer = _build_serializer()

    def dumps(self, workflow: BpmnWorkflow) -> str:
        registry = self.serializer.registry
        registry._encoder_mode = True
        try:
            dct = self.serializer.to_dict(workflow)
            return json.dumps(dct, cls=self.serializer._encoder_cls, ensure_ascii=False, separators=(",", ":"))
        finally:
            registry._encoder_mode = False

    def loads(
        self, text: str, version: str, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any
    ) -> BpmnWorkflow:
        if version != SERIALIZER_VERSION:
            raise WorkflowError(
                f"stored workflow has serializer version {version}; this build reads {SERIALIZER_VERSION}"
            )
        dct = json.loads(text, cls=self.serializer.json_decoder_cls)
        workflow: BpmnWorkflow = self.serializer.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
        workflow.script_engine = script_engine
        return workflow
