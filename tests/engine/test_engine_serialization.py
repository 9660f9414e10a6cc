"""Stored workflow state: without the process spec, and stable through dumps -> loads -> dumps."""

from __future__ import annotations

import json

import pytest
from engine_support import OFFICER, REVIEWER, CaseDriver
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter

from huiju.errors import WorkflowError
from huiju.runtime import Runtime
from workflows_bpmn.expressions import HuijuScriptEngine, host_functions
from workflows_bpmn.models import ProcessInstance
from workflows_bpmn.serialization import SERIALIZER_VERSION, WorkflowStore
from workflows_bpmn.specs import AsyncServiceTask


def library_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own serializer (spec included), taught only Huiju's service task."""
    config = dict(SPIFF_CONFIG)
    config[AsyncServiceTask] = ServiceTaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def load(rt: Runtime, instance: ProcessInstance, store: WorkflowStore) -> BpmnWorkflow:
    with rt.db.sessions() as session:
        definition = session.merge(instance).definition
        spec, subprocess_specs = rt.engine.cache.get(definition)
    return store.loads(
        instance.serialized, instance.serializer_version, spec, subprocess_specs, HuijuScriptEngine(host_functions())
    )


def check_round_trip(rt: Runtime, driver: CaseDriver, store: WorkflowStore, sizes: list[tuple[int, int]]) -> None:
    instance = driver.instance()
    assert instance.serializer_version == SERIALIZER_VERSION
    stored = instance.serialized
    dct = json.loads(stored)
    assert "spec" not in dct and "subprocess_specs" not in dct
    assert "task_specs" not in stored
    workflow = load(rt, instance, store)
    assert store.dumps(workflow) == stored
    again = store.loads(stored, SERIALIZER_VERSION, workflow.spec, workflow.subprocess_specs, workflow.script_engine)
    assert store.dumps(again) == stored
    full = library_serializer().serialize_json(workflow)
    sizes.append((len(stored), len(full)))


def test_stored_state_is_small_and_round_trips_at_every_wait_state(rt: Runtime) -> None:
    store = WorkflowStore()
    sizes: list[tuple[int, int]] = []
    driver = CaseDriver(rt).submit()
    check_round_trip(rt, driver, store, sizes)  # waiting for the receipt SMS (受理回执)
    while driver.pending():
        driver.settle_one()
        check_round_trip(rt, driver, store, sizes)
    driver.complete(OFFICER, "supplement", {"missing_materials": ["户口簿复印件"]})
    check_round_trip(rt, driver, store, sizes)  # waiting for the SMS
    driver.settle_all()
    check_round_trip(rt, driver, store, sizes)  # the supplement task and its timer
    driver.complete("resident-zhang", "submit", {"materials": ["hukou.pdf"]})
    check_round_trip(rt, driver, store, sizes)
    driver.complete(OFFICER, "accept")
    check_round_trip(rt, driver, store, sizes)
    driver.complete(REVIEWER, "approve")
    while driver.pending():
        check_round_trip(rt, driver, store, sizes)
        driver.settle_one()
    check_round_trip(rt, driver, store, sizes)
    assert driver.case().outcome == "approved"
    for ours, library in sizes:
        # The spec alone is more than a third of the library's output for this model.
        assert ours < 0.65 * library, (ours, library)
    spec_size = sizes[0][1] - sizes[0][0]
    assert all(library - ours >= spec_size * 0.95 for ours, library in sizes)


def test_loading_needs_the_right_serializer_version(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()
    instance = driver.instance()
    store = WorkflowStore()
    with pytest.raises(WorkflowError, match="serializer version 1.0"):
        store.loads(instance.serialized, "1.0", None, {}, None)
    with pytest.raises(WorkflowError, match="deployed spec"):
        store.loads(instance.serialized, SERIALIZER_VERSION, None, {}, None)
