"""The engine's step: what one step writes, in how many transactions, the cache of committed
workflows across processes, and instances that nothing can move on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from process_support import Harness, Maker, flow, lane, process, service
from sqlalchemy import event, select

from adapters.config import AdapterSettings, get_config
from adapters.sandbox.people import ZHANG_XIUYING
from exchange.delivery import Attempt
from exchange.models import MessageStatus, OutboxMessage
from exchange.outbox import Claimed
from huiju.errors import InputError, StepError
from huiju.runtime import Runtime
from workflows_bpmn.definitions import SpecCache, deploy
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessInstance
from workflows_bpmn.runner import STEP_FAILED, STUCK, Engine
from workflows_bpmn.tasks import process_message, record_and_settle, sweep, unsettled_messages

CALL_THEN_TWO_TASKS = process(
    "steps",
    lane("u1", "u2") + '<bpmn:startEvent id="s"/>' + flow("f1", "s", "svc") + service("svc")
    + flow("f2", "svc", "u1") + '<bpmn:userTask id="u1"/>' + flow("f3", "u1", "u2") + '<bpmn:userTask id="u2"/>'
    + flow("f4", "u2", "e") + '<bpmn:endEvent id="e"/>',
)  # fmt: skip
REPLY = {"match": True, "reason": None}


@contextmanager
def recorded(h: Harness) -> Iterator[dict[str, Any]]:
    """The SQL statements sent (BEGIN aside) and the write transactions committed inside the block."""
    seen: dict[str, Any] = {"statements": [], "writes": 0}

    def statement(conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        if not text.lstrip().upper().startswith("BEGIN"):
            seen["statements"].append(" ".join(text.split()))
            if text.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                conn.info["test_wrote"] = True

    def commit(conn: Any) -> None:
        if conn.info.pop("test_wrote", False):
            seen["writes"] += 1

    event.listen(h.db.engine, "before_cursor_execute", statement)
    event.listen(h.db.engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(h.db.engine, "before_cursor_execute", statement)
        event.remove(h.db.engine, "commit", commit)


def tables(statements: list[str]) -> list[str]:
    """ "VERB table" of each statement, in order."""
    found = []
    for text in statements:
        match = re.match(r"(SELECT) .*? FROM (\w+)|(INSERT) INTO (\w+)|(UPDATE) (\w+)|(DELETE) FROM (\w+)", text)
        assert match is not None, text
        verb, table = [g for g in match.groups() if g]
        found.append(f"{verb} {table}")
    return found


def claimed(h: Harness, message: OutboxMessage) -> Claimed:
    with h.db.sessions() as session:
        settings: AdapterSettings = get_config(session, message.system).snapshot()
    return Claimed(
        message_id=message.message_id, operation=message.operation, params=message.params, user_id=message.user_id,
        case_number=None, attempt=0, settings=settings, process_instance_id=message.process_instance_id,
        reply_to=message.reply_to,
    )  # fmt: skip


def test_a_reply_is_recorded_and_taken_in_one_transaction_that_writes_only_what_changed(make: Maker) -> None:
    h = make(CALL_THEN_TWO_TASKS, adapters=True)
    started = h.start("steps", {"idn": ZHANG_XIUYING}, {"community_id": 1})
    [message] = started.messages
    lease = claimed(h, message)
    with recorded(h) as seen:
        status = record_and_settle(h.db, h.engine, lease, Attempt(reply=REPLY))
    assert status is MessageStatus.DELIVERED
    assert seen["writes"] == 1, seen["statements"]
    # Record the reply (taken at once), reading back the instance's version: the process's cache
    # holds the workflow committed at that version, so the step reads nothing; the state; the task
    # now ready. No query of the human tasks, awaited messages or pending calls: the step knew them.
    assert sorted(tables(seen["statements"])) == sorted(
        ["UPDATE outbox_message", "UPDATE process_instance", "INSERT human_task"]
    ), seen["statements"]
    row = h.message(message.message_id)
    assert (row.status, row.reply) == (MessageStatus.DELIVERED, REPLY) and row.settled_at is not None
    assert h.kinds(started.instance.id)[-2:] == ["service_replied", "task_ready"]

    [ready] = [r.ready_tasks for r in [started]][0] or [None]  # the start made no task ready
    assert ready is None
    with h.db.sessions() as session:
        [task] = session.scalars(select(HumanTask).where(HumanTask.status == HumanTaskStatus.READY)).all()
    with recorded(h) as seen, h.db.transaction() as session:
        h.engine.complete_task(session, task.id, "officer", {"decision": "done"})
    assert seen["writes"] == 1
    assert tables(seen["statements"]) == [
        "SELECT human_task",  # which instance (a service that checked permissions holds it already)
        "SELECT process_instance", "UPDATE process_instance", "UPDATE human_task", "INSERT human_task",
    ]  # fmt: skip


def test_the_cache_serves_one_process_and_never_a_stale_workflow_to_another(make: Maker) -> None:
    h = make(CALL_THEN_TWO_TASKS, adapters=True)
    # A second process on the same database: its own engine, caches and all.
    other = Engine(cache=SpecCache(host_functions()), functions=lambda _session: host_functions())
    started = h.start("steps", {"idn": ZHANG_XIUYING}, {"community_id": 1})
    iid = started.instance.id
    record_and_settle(h.db, h.engine, claimed(h, started.messages[0]), Attempt(reply=REPLY))
    assert (h.engine.workflows.hits, h.engine.workflows.misses) == (1, 0)  # the start's workflow, cached

    def ready() -> str:
        with h.db.sessions() as session:
            return session.scalars(
                select(HumanTask.id).where(HumanTask.instance_id == iid, HumanTask.status == HumanTaskStatus.READY)
            ).one()

    with h.db.transaction() as session:  # the other process takes the next step: it loads the state
        other.complete_task(session, ready(), "officer", {"decision": "done"})
    assert (other.workflows.hits, other.workflows.misses) == (0, 1)

    u2 = ready()
    with h.db.transaction() as session:  # ours holds the state before that step: it must not use it,
        # even when told the row's version (read in this transaction, as the worker reads it when
        # it records a reply): the cached entry is of an older version, so the step reads the row.
        version = session.scalar(select(ProcessInstance.lock_version).where(ProcessInstance.id == iid))
        h.engine.complete_task(session, u2, "officer", {"decision": "done"}, version=version)
    assert (h.engine.workflows.hits, h.engine.workflows.misses) == (1, 1)
    assert h.instance(iid).status is InstanceStatus.COMPLETED
    assert h.kinds(iid).count("task_completed") == 1  # the harness listens to its own engine only


def test_a_failed_step_leaves_no_half_changed_workflow_in_the_cache(make: Maker) -> None:
    h = make(CALL_THEN_TWO_TASKS, adapters=True)
    started = h.start("steps", {"idn": ZHANG_XIUYING}, {"community_id": 1})
    iid = started.instance.id
    record_and_settle(h.db, h.engine, claimed(h, started.messages[0]), Attempt(reply=REPLY))
    with h.db.sessions() as session:
        task_id = session.scalars(select(HumanTask.id).where(HumanTask.status == HumanTaskStatus.READY)).one()
    with pytest.raises(InputError, match="typename"), h.db.transaction() as session:
        # The form reaches the workflow's task data before it is refused.
        h.engine.complete_task(session, task_id, "officer", {"decision": "done"}, {"x": {"typename": "UUID"}})
    misses = h.engine.workflows.misses
    with h.db.transaction() as session:
        result = h.engine.complete_task(session, task_id, "officer", {"decision": "done"})
    assert h.engine.workflows.misses == misses + 1  # loaded again from the committed state
    workflow = h.engine.load(h.db.sessions(), iid)
    assert all("x" not in t.data for t in workflow.get_tasks())
    assert [t.step for t in result.ready_tasks] == ["u2"]


PARALLEL_DEAD_END = process(
    "dead_end",
    '<bpmn:startEvent id="s"/>' + flow("f1", "s", "split") + '<bpmn:parallelGateway id="split"/>'
    + flow("f2", "split", "a") + '<bpmn:intermediateThrowEvent id="a"/>' + flow("f3", "a", "join")
    + flow("f4", "split", "x") + '<bpmn:exclusiveGateway id="x" default="f6"/>'
    + flow("f5", "x", "join", "False") + flow("f6", "x", "early_end") + '<bpmn:endEvent id="early_end"/>'
    + '<bpmn:parallelGateway id="join"/>' + flow("f7", "join", "e") + '<bpmn:endEvent id="e"/>',
)  # fmt: skip


def test_an_instance_that_nothing_can_move_on_is_an_incident_with_its_reason(make: Maker) -> None:
    """A parallel join waits for a branch that took another way and ended: no task is ready, no call
    pending, no timer or message awaited, and the process has not ended."""
    h = make(PARALLEL_DEAD_END)
    result = h.start("dead_end")
    instance = h.instance(result.instance.id)
    assert instance.status is InstanceStatus.INCIDENT
    assert (instance.incident_kind, instance.incident_detail) == (STUCK, "no task is ready, no call is pending, "
                                                                  "and no timer or message is awaited")  # fmt: skip
    [incident] = [e for e in result.timeline if e.kind == "incident"]
    assert incident.data == {"incident": STUCK} and incident.detail == instance.incident_detail


REPLY_THE_MODEL_CANNOT_TAKE = process(
    "unreadable",
    '<bpmn:startEvent id="s"/>' + flow("f1", "s", "svc") + service("svc") + flow("f2", "svc", "g")
    + '<bpmn:exclusiveGateway id="g"/>' + flow("f3", "g", "e", 'r["no_such_field"] == 1') + '<bpmn:endEvent id="e"/>',
)  # fmt: skip


def test_a_reply_the_step_cannot_take_is_recorded_alone_then_the_instance_goes_to_incident(rt: Runtime) -> None:
    """The worker's one transaction fails in the step: the reply (the receiver acted) is still recorded,
    by a transaction of its own, and the sweep then puts the instance in incident with the reason."""
    with rt.db.transaction() as session:
        deploy(session, REPLY_THE_MODEL_CANNOT_TAKE, host_functions(), deployed_by="tester", cache=rt.engine.cache)
        [message] = rt.engine.start(session, "unreadable", {"idn": ZHANG_XIUYING}, {}, "tester").messages
        iid = message.process_instance_id
    with pytest.raises(StepError):
        process_message(rt, message.message_id)
    with rt.db.sessions() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message.message_id)).one()
        assert (row.status, row.reply, row.settled_at) == (MessageStatus.DELIVERED, {"match": True, "reason": None},
                                                           None)  # fmt: skip
    assert [m for m, _i in unsettled_messages(rt.db)] == [message.message_id]

    report = sweep(rt, lambda _ids: None)
    assert report.settled == []
    with rt.db.sessions() as session:
        instance = session.get(ProcessInstance, iid)
        assert instance is not None and instance.status is InstanceStatus.INCIDENT
        assert instance.incident_kind == STEP_FAILED and "no_such_field" in (instance.incident_detail or "")
    assert unsettled_messages(rt.db) == []  # left alone until an officer retries it
