"""An administrator's operations on running instances: suspend and resume (timers and the outbox
respect it), move to another step, migrate to another version (with its dry run)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from process_support import FUNCTIONS, Harness, Maker, flow, lane, process, service
from sqlalchemy import select

from exchange.models import MessageStatus
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError
from workflows_bpmn import administration
from workflows_bpmn.definitions import deploy
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessDefinition
from workflows_bpmn.tasks import process_message


def user(tid: str, name: str, decisions: str = "done") -> str:
    return (
        f'<bpmn:userTask id="{tid}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
        f'<spiffworkflow:property name="decisions" value="{decisions}"/></spiffworkflow:properties>'
        "</bpmn:extensionElements></bpmn:userTask>"
    )


def chain(pid: str, *steps: tuple[str, str], extra: str = "") -> dict[str, str]:
    """start -> the user tasks in order -> end; ``extra`` adds elements (a boundary timer...)."""
    ids = [s for s, _n in steps]
    body = lane(*ids) + '<bpmn:startEvent id="s"/>'
    previous = "s"
    for number, (tid, name) in enumerate(steps):
        body += flow(f"f{number}", previous, tid) + user(tid, name)
        previous = tid
    body += flow("fe", previous, "e") + '<bpmn:endEvent id="e"/>' + extra
    return process(pid, body)


V1 = chain("permit", ("a", "受理"), ("b", "审核"))
TIMER = (
    '<bpmn:boundaryEvent id="late" attachedToRef="a" cancelActivity="true"><bpmn:timerEventDefinition>'
    '<bpmn:timeDuration>"P10D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
    + flow("fl", "late", "e2") + '<bpmn:endEvent id="e2"/>'
)  # fmt: skip


def ready(harness: Harness, instance_id: int) -> list[tuple[str, str]]:
    with harness.db.sessions() as session:
        rows = session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == HumanTaskStatus.READY)
        )
        return [(t.step, t.name) for t in rows]


def complete(harness: Harness, instance_id: int, decision: str = "done") -> None:
    with harness.db.sessions() as session:
        task_id = session.scalars(
            select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == HumanTaskStatus.READY)
        ).one()
    with harness.db.transaction() as session:
        harness.engine.complete_task(session, task_id, "officer", {"decision": decision})


def op(harness: Harness, name: str, *args: Any, **kwargs: Any) -> Any:
    with harness.db.transaction() as session:
        return getattr(administration, name)(harness.engine, session, *args, **kwargs)


def definition_id(harness: Harness, pid: str, version: int) -> int:
    with harness.db.sessions() as session:
        return session.scalars(
            select(ProcessDefinition.id).where(
                ProcessDefinition.process_id == pid, ProcessDefinition.version == version
            )
        ).one()


def test_a_suspended_instance_fires_no_timer_and_its_tasks_wait(make: Maker) -> None:
    harness = make(chain("permit", ("a", "受理"), ("b", "审核"), extra=TIMER))
    iid = harness.start("permit").instance.id
    op(harness, "suspend", iid, "admin", "材料存疑，暂停办理")
    instance = harness.instance(iid)
    assert (instance.status, instance.suspended_from) == (InstanceStatus.SUSPENDED, "running")
    assert harness.kinds(iid)[-1] == "suspended"
    with pytest.raises(ConflictError, match="suspended by an administrator"):
        complete(harness, iid)
    with pytest.raises(ConflictError, match="already suspended"):
        op(harness, "suspend", iid, "admin", "again")
    with pytest.raises(InputError, match="give a reason"):
        op(harness, "resume", iid, "admin", "  ")
    # Its timer comes due: the sweep does not wake it, nor does a direct wake-up.
    with harness.db.transaction() as session:
        session.get(type(instance), iid).next_timer_due = utcnow() - timedelta(minutes=1)  # type: ignore[union-attr]
    assert harness.sweep().woken == []
    with harness.db.transaction() as session:
        assert harness.engine.wake_timers(session, iid) is None
    op(harness, "resume", iid, "admin", "核实无误")
    assert harness.instance(iid).status is InstanceStatus.RUNNING and harness.instance(iid).suspended_from is None
    assert harness.kinds(iid)[-1] == "resumed"
    complete(harness, iid)
    assert ready(harness, iid) == [("b", "审核")]


def test_nothing_is_sent_for_a_suspended_instance_until_it_is_resumed(make: Maker) -> None:
    body = '<bpmn:startEvent id="s"/>' + flow("f1", "s", "svc") + service("svc") + flow("f2", "svc", "e")
    harness = make(process("calls", body + '<bpmn:endEvent id="e"/>'), adapters=True)
    iid = harness.start("calls", {"idn": "110105193801012340"}).instance.id
    [message_id] = harness.pending()
    op(harness, "suspend", iid, "admin", "系统核查")
    assert harness.message(message_id).status is MessageStatus.HELD
    assert process_message(harness, message_id) is None  # not claimed: nothing goes out
    assert harness.message(message_id).attempts == 0
    assert harness.sweep().sent == []
    op(harness, "resume", iid, "admin", "继续")
    held = harness.message(message_id)
    assert held.status is MessageStatus.PENDING and held.dispatched_at is not None
    assert harness.kinds(iid)[-1] == "resumed"


def test_an_instance_in_incident_is_suspended_and_resumed_into_incident(make: Maker) -> None:
    harness = make(V1)
    iid = harness.start("permit").instance.id
    with harness.db.transaction() as session:
        harness.engine.mark_incident(session, iid, "测试故障")
    op(harness, "suspend", iid, "admin", "排查")
    op(harness, "resume", iid, "admin", "排查完毕")
    assert harness.instance(iid).status is InstanceStatus.INCIDENT


def test_move_forward_and_back_with_the_data_kept(make: Maker) -> None:
    harness = make(chain("permit", ("a", "受理"), ("b", "审核"), ("c", "办结"), extra=TIMER))
    iid = harness.start("permit", {"applicant": "张秀英"}).instance.id
    with harness.db.transaction() as session:
        workflow = harness.engine.load(session, iid)
    assert [p.step for p in administration.positions(workflow)] == ["a"]
    assert [p.step for p in administration.move_targets(workflow)] == ["a", "b", "c"]
    op(harness, "move", iid, "admin", to_step="c", reason="材料已线下审核")
    assert ready(harness, iid) == [("c", "办结")]
    assert harness.kinds(iid)[-3:] == ["moved", "task_cancelled", "task_ready"]
    assert harness.instance(iid).next_timer_due is None  # a's boundary timer went with it
    op(harness, "move", iid, "admin", to_step="a", reason="退回重新受理")
    assert ready(harness, iid) == [("a", "受理")]
    assert harness.instance(iid).next_timer_due is not None  # its timer waits again
    with harness.db.transaction() as session:
        assert harness.engine.load(session, iid).get_tasks(spec_name="a")[0].data["applicant"] == "张秀英"
    with pytest.raises(InputError, match="not a step the case can be moved to"):
        op(harness, "move", iid, "admin", to_step="e", reason="x")
    with pytest.raises(InputError, match="does not stand on step 'b'"):
        op(harness, "move", iid, "admin", to_step="c", from_step="b", reason="x")
    for _step in "abc":
        complete(harness, iid) if ready(harness, iid) else None
    assert harness.instance(iid).status is InstanceStatus.COMPLETED


def test_a_stuck_instance_in_incident_is_moved_on_and_runs(make: Maker) -> None:
    harness = make(V1)
    iid = harness.start("permit").instance.id
    with harness.db.transaction() as session:
        harness.engine.mark_incident(session, iid, "卡住")
    op(harness, "move", iid, "admin", to_step="b", reason="跳过受理")
    instance = harness.instance(iid)
    assert (instance.status, instance.incident_kind) == (InstanceStatus.RUNNING, None)
    complete(harness, iid)
    assert harness.instance(iid).status is InstanceStatus.COMPLETED


def test_migration_dry_run_then_migrate_where_the_steps_still_exist(make: Maker) -> None:
    v2 = chain("permit", ("a", "受理（新）"), ("x", "加审"), ("b", "审核"))
    harness = make(V1)
    at_a = harness.start("permit").instance.id
    at_b = harness.start("permit").instance.id
    complete(harness, at_b)
    with harness.db.transaction() as session:
        deploy(session, v2, FUNCTIONS, deployed_by="admin", cache=harness.engine.cache)
    to_v2 = definition_id(harness, "permit", 2)
    with harness.db.sessions() as session:
        check_a = administration.check_migration(harness.engine, session, at_a, to_v2)
        check_b = administration.check_migration(harness.engine, session, at_b, to_v2)
    assert check_a.movable and [p.step for p in check_a.positions] == ["a"]
    assert [str(c) for c in check_a.changes] == ["step 受理 (a) changed: name; what follows"]
    assert check_b.movable and check_b.changes == []
    assert harness.instance(at_a).definition_id == definition_id(harness, "permit", 1)  # the dry run wrote nothing
    op(harness, "migrate", at_a, to_v2, "admin")
    assert harness.instance(at_a).definition_id == to_v2
    assert ready(harness, at_a) == [("a", "受理（新）")]  # the ready task's row follows its new step
    assert harness.kinds(at_a)[-1] == "migrated"
    with pytest.raises(ConflictError, match="already runs on version 2"):
        op(harness, "migrate", at_a, to_v2, "admin")
    complete(harness, at_a)
    assert ready(harness, at_a) == [("x", "加审")]  # the new version's path
    complete(harness, at_a)
    complete(harness, at_a)
    assert harness.instance(at_a).status is InstanceStatus.COMPLETED


def test_migration_is_refused_where_a_step_is_gone_with_the_reason(make: Maker) -> None:
    v2 = chain("permit", ("a", "受理"))
    harness = make(V1)
    at_a = harness.start("permit").instance.id
    at_b = harness.start("permit").instance.id
    complete(harness, at_b)
    with harness.db.transaction() as session:
        deploy(session, v2, FUNCTIONS, deployed_by="admin", cache=harness.engine.cache)
    to_v2 = definition_id(harness, "permit", 2)
    with harness.db.sessions() as session:
        assert administration.check_migration(harness.engine, session, at_a, to_v2).movable
        refused = administration.check_migration(harness.engine, session, at_b, to_v2)
    assert [str(r) for r in refused.refusals] == ["it stands on step 审核 (b), which version 2 does not have"]
    with pytest.raises(ConflictError, match="cannot move to version 2: it stands on step 审核"):
        op(harness, "migrate", at_b, to_v2, "admin")
    assert harness.instance(at_b).definition_id == definition_id(harness, "permit", 1)
    complete(harness, at_b)  # it finishes on its own version
    assert harness.instance(at_b).status is InstanceStatus.COMPLETED


def test_a_call_on_the_wire_when_suspended_is_sent_again_on_resume(make: Maker) -> None:
    from exchange import outbox

    body = '<bpmn:startEvent id="s"/>' + flow("f1", "s", "svc") + service("svc") + flow("f2", "svc", "e")
    harness = make(process("calls", body + '<bpmn:endEvent id="e"/>'), adapters=True)
    iid = harness.start("calls", {"idn": "110105193801012340"}).instance.id
    [message_id] = harness.pending()
    claimed = outbox.claim(harness.db, message_id, 30.0)  # a worker is calling the system right now
    assert claimed is not None
    op(harness, "suspend", iid, "admin", "暂停")
    with harness.db.transaction() as session:  # its answer comes back: the held message is not settled by it
        assert outbox.record(session, claimed, {"match": True}, None, settled=True) is None
    assert harness.message(message_id).status is MessageStatus.HELD
    op(harness, "resume", iid, "admin", "继续")
    again = harness.message(message_id)
    assert (again.status, again.locked_until, again.settled_at) == (MessageStatus.PENDING, None, None)
