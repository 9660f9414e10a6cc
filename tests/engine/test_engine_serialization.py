"""Stored workflow state: without the process spec, stable through dumps -> loads -> dumps, versioned
with named migrations, and only a summary once the instance has ended."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from engine_support import OFFICER, REVIEWER, CaseDriver
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.util.task import TaskState

from huiju.errors import WorkflowError
from huiju.runtime import Runtime
from workflows_bpmn.expressions import HuijuScriptEngine, host_functions
from workflows_bpmn.models import ProcessInstance
from workflows_bpmn.serialization import (
    CONCLUDED_KEY,
    LIBRARY_VERSION,
    SERIALIZER_VERSION,
    WorkflowStore,
    forget_saved,
)
from workflows_bpmn.specs import AsyncServiceTask
from workflows_bpmn.state_migrations import LIBRARY_VERSION_KEY, MIGRATIONS


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
    text = store.text(stored)
    dct = json.loads(text)
    assert "spec" not in dct and "subprocess_specs" not in dct
    assert "task_specs" not in text
    assert len(stored) < 0.35 * len(text.encode())  # stored compressed
    workflow = load(rt, instance, store)
    assert store.dumps(workflow) == stored
    again = store.loads(stored, SERIALIZER_VERSION, workflow.spec, workflow.subprocess_specs, workflow.script_engine)
    assert store.dumps(again) == stored
    full = library_serializer().serialize_json(workflow)
    # The tasks as the library itself writes them (Huiju only makes their ids' text once).
    assert json.loads(full)["tasks"] == dct["tasks"]
    sizes.append((len(text), len(full)))


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
    assert driver.case().outcome == "approved"
    # Ended: no task tree, a summary of how it ended, a fraction of the running state's size.
    ended = driver.instance()
    summary = json.loads(store.text(ended.serialized))
    assert ended.serializer_version == SERIALIZER_VERSION and summary[LIBRARY_VERSION_KEY] == LIBRARY_VERSION
    assert set(summary) == {LIBRARY_VERSION_KEY, CONCLUDED_KEY} and "tasks" not in summary
    assert summary[CONCLUDED_KEY]["data"]["case_number"] == driver.number
    assert summary[CONCLUDED_KEY]["steps"][-1] == "end_approved" and "street_review" in summary[CONCLUDED_KEY]["steps"]
    assert len(store.text(ended.serialized)) < 0.25 * max(ours for ours, _library in sizes)
    with pytest.raises(WorkflowError, match="has ended"):
        load(rt, ended, store)
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


def test_state_of_an_older_layout_is_migrated_by_its_named_function(rt: Runtime) -> None:
    """A row written by the build before (layout "1.5": no library version inside) loads, and comes
    out in today's layout; a version nobody wrote is refused by name."""
    driver = CaseDriver(rt).submit()
    driver.settle_all()
    instance = driver.instance()
    current = json.loads(WorkflowStore.text(instance.serialized))
    assert current[LIBRARY_VERSION_KEY] == LIBRARY_VERSION
    older = dict(current)
    del older[LIBRARY_VERSION_KEY]
    assert MIGRATIONS["1.5"][0] == SERIALIZER_VERSION
    store = WorkflowStore()
    with rt.db.sessions() as session:
        spec, subprocess_specs = rt.engine.cache.get(session.merge(instance).definition)
    workflow = store.loads(json.dumps(older), "1.5", spec, subprocess_specs, HuijuScriptEngine(host_functions()))
    assert json.loads(store.text(store.dumps(workflow))) == current
    with pytest.raises(WorkflowError, match="serializer version huiju-9; this build reads 1.5, huiju-2"):
        store.loads(instance.serialized, "huiju-9", spec, subprocess_specs, None)

    # The engine takes such a row as it is: the case goes on from it.
    with rt.db.transaction() as session:
        row = session.get(ProcessInstance, instance.id)
        assert row is not None
        row.serialized, row.serializer_version = zlib.compress(json.dumps(older).encode()), "1.5"
    driver.complete(OFFICER, "accept")
    assert driver.instance().serializer_version == SERIALIZER_VERSION
    driver.complete(REVIEWER, "approve")
    driver.settle_all()
    assert driver.case().outcome == "approved"


def test_variables_set_on_a_waiting_case_are_saved_on_its_finished_tasks_too(rt: Runtime) -> None:
    """A finished task's saved dictionary is reused while the task stays as it was: setting process
    variables on a waiting case changes finished tasks in place, and the next save has them."""
    store = WorkflowStore()
    driver = CaseDriver(rt).submit()
    driver.settle_all()  # the intake task waits; the steps before it have finished
    check_round_trip(rt, driver, store, [])
    with rt.db.transaction() as session:
        rt.engine.update_data(session, driver.instance_id, {"limits": {"supplement_wait": "P15D"}})
    check_round_trip(rt, driver, store, [])  # the library's own serialization of the stored state agrees
    workflow = load(rt, driver.instance(), store)
    # Every task held the variable since the start, the finished ones included: every one has its new value.
    assert all(task.data["limits"] == {"supplement_wait": "P15D"} for task in workflow.get_tasks())


def test_a_finished_tasks_saved_dictionary_is_made_again_when_it_changes(rt: Runtime) -> None:
    """Saving reuses a finished task's dictionary only while the task is as it was saved: its data
    changed in place (with ``forget_saved``, as the engine does) or a new state is saved anew, and
    every save is what the library itself writes."""
    store = WorkflowStore()
    driver = CaseDriver(rt).submit()
    driver.settle_all()
    workflow = load(rt, driver.instance(), store)

    def tasks_saved() -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(store.text(store.dumps(workflow)))["tasks"])

    def tasks_written_by_the_library() -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(library_serializer().serialize_json(workflow))["tasks"])

    assert tasks_saved() == tasks_written_by_the_library()
    finished = [t for t in workflow.get_tasks() if t.has_state(TaskState.FINISHED_MASK)]
    assert len(finished) > 5
    for task in finished:
        task.data["limits"] = {"supplement_wait": "P15D"}
    forget_saved(workflow)
    assert tasks_saved() == tasks_written_by_the_library()
    ready = workflow.get_tasks(state=TaskState.READY)[0]
    assert ready.parent is not None and ready.parent.has_state(TaskState.FINISHED_MASK)
    ready.parent.data["again"] = True  # without forget_saved: the parent's saved dictionary stays as it was
    assert tasks_saved() != tasks_written_by_the_library()
    forget_saved(workflow)
    assert tasks_saved() == tasks_written_by_the_library()


def test_task_data_of_every_kind_round_trips(rt: Runtime) -> None:
    """What task data may hold comes back as it went in: Decimals, dates and times through the
    registry, Chinese text as itself, keys that are numbers as text (as the standard library writes
    them), and an integer too large for orjson through the standard library's encoder."""
    store = WorkflowStore()
    driver = CaseDriver(rt).submit()
    workflow = load(rt, driver.instance(), store)
    ready = workflow.get_tasks(state=TaskState.STARTED | TaskState.WAITING | TaskState.READY)[0]  # not finished
    values: dict[str, Any] = {
        "amount": Decimal("1280.50"),
        "decided_at": datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        "born": date(1948, 5, 1),
        "name": "张秀英",
        "scores": {1: "一", 2: "二"},
        "nested": [{"due": date(2026, 4, 1)}, None, True, 1.5],
    }
    ready.data.update(values)
    stored = store.dumps(workflow)
    assert "张秀英".encode() in store.text(stored).encode()  # not escaped
    again = load_stored(rt, driver.instance(), store, stored)
    data = again.get_task_from_id(ready.id).data
    assert {k: data[k] for k in values} == {**values, "scores": {"1": "一", "2": "二"}}

    ready.data["census_code"] = 2**70  # beyond orjson's 64 bits
    again = load_stored(rt, driver.instance(), store, store.dumps(workflow))
    assert again.get_task_from_id(ready.id).data["census_code"] == 2**70


def load_stored(rt: Runtime, instance: ProcessInstance, store: WorkflowStore, stored: bytes) -> BpmnWorkflow:
    with rt.db.sessions() as session:
        spec, subprocess_specs = rt.engine.cache.get(session.merge(instance).definition)
    return store.loads(stored, SERIALIZER_VERSION, spec, subprocess_specs, HuijuScriptEngine(host_functions()))
