"""Processes and decision tables deployed on their own and called by others; collaborations.

A parent process calls a child deployed separately (resolved when the parent is deployed: the
latest version, or the one ``called_version`` pins) and runs end to end through it; a decision table
deployed on its own decides a case; a collaboration runs one executable pool per file.
"""

from __future__ import annotations

from typing import Any

import pytest
from process_support import FUNCTIONS, HEAD, TAIL, Maker, flow, lane, process
from sqlalchemy import select

from huiju.errors import DeployError
from workflows_bpmn.definitions import deploy, list_definitions
from workflows_bpmn.models import DefinitionKind, HumanTask, HumanTaskStatus, InstanceStatus, ProcessDefinition
from workflows_bpmn.validation import findings_of, parse_bundle

CHILD_V1 = process(
    "child_review",
    lane("check")
    + '<bpmn:startEvent id="cs"/>' + flow("cf1", "cs", "check")
    + '<bpmn:userTask id="check" name="复核"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="decisions" value="agree,disagree"/></spiffworkflow:properties>'
    "</bpmn:extensionElements></bpmn:userTask>"
    + flow("cf2", "check", "ce") + '<bpmn:endEvent id="ce"/>',
)  # fmt: skip
CHILD_V2 = {"child_review.bpmn": CHILD_V1["child_review.bpmn"].replace('name="复核"', 'name="复核（二）"')}


def parent(pinned: int | None = None) -> dict[str, str]:
    pin = (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="called_version" value="{pinned}"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
        if pinned is not None
        else ""
    )
    return process(
        "parent_case",
        '<bpmn:startEvent id="s"/>' + flow("f1", "s", "call")
        + f'<bpmn:callActivity id="call" name="调用复核" calledElement="child_review">{pin}</bpmn:callActivity>'
        + flow("f2", "call", "e") + '<bpmn:endEvent id="e"/>',
    )  # fmt: skip


TIER_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs_band" name="档次" namespace="urn:t">
  <decision id="income_band_rate" name="按收入类别定补贴">
    <decisionTable id="t" hitPolicy="FIRST">
      <input id="i1" label="收入类别"><inputExpression id="ie1" typeRef="string"><text>band</text></inputExpression></input>
      <output id="o1" label="金额" name="amount" typeRef="integer"/>
      <rule id="r1"><inputEntry id="r1i"><text>"subsistence"</text></inputEntry><outputEntry id="r1o"><text>amount</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="r2i"><text>-</text></inputEntry><outputEntry id="r2o"><text>0</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""
DECIDER = process(
    "decide_amount",
    '<bpmn:startEvent id="s"/>' + flow("f1", "s", "rule")
    + '<bpmn:businessRuleTask id="rule" name="定补贴"><bpmn:extensionElements>'
    "<spiffworkflow:calledDecisionId>income_band_rate</spiffworkflow:calledDecisionId>"
    "</bpmn:extensionElements></bpmn:businessRuleTask>"
    + flow("f2", "rule", "e") + '<bpmn:endEvent id="e"/>',
)  # fmt: skip


def ready(harness: Any, instance_id: int) -> list[HumanTask]:
    with harness.db.sessions() as session:
        return list(
            session.scalars(
                select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == HumanTaskStatus.READY)
            )
        )


def complete(harness: Any, task: HumanTask, decision: str) -> None:
    with harness.db.transaction() as session:
        harness.engine.complete_task(session, task.id, "officer", {"decision": decision})


def test_a_parent_calls_a_child_deployed_on_its_own_end_to_end(make: Maker) -> None:
    harness = make(CHILD_V1, parent())
    with harness.db.sessions() as session:
        rows = {d.process_id: d for d, _running in list_definitions(session)}
    assert rows["parent_case"].references == [
        {"kind": "process", "ref": "child_review", "element": "call", "definition_id": rows["child_review"].id,
         "version": 1}
    ]  # fmt: skip
    started = harness.start("parent_case")
    [task] = ready(harness, started.instance.id)
    assert (task.step, task.name, task.role, task.decisions) == ("check", "复核", "community_officer",
                                                                 ["agree", "disagree"])  # fmt: skip
    # A new child version changes nothing for the parent deployed before it, nor for its running case.
    with harness.db.transaction() as session:
        assert deploy(session, CHILD_V2, FUNCTIONS, deployed_by="admin", cache=harness.engine.cache).created
        again = deploy(session, parent(), FUNCTIONS, deployed_by="admin", cache=harness.engine.cache)
    assert again.created and again.definition.version == 2  # the same file, calling child version 2
    assert again.definition.references[0]["version"] == 2
    harness.engine.workflows.clear()  # loaded from the database: the stored state and the deployed spec
    complete(harness, task, "agree")
    instance = harness.instance(started.instance.id)
    assert (instance.status, instance.definition_id) == (InstanceStatus.COMPLETED, rows["parent_case"].id)
    second = harness.start("parent_case")
    assert [t.name for t in ready(harness, second.instance.id)] == ["复核（二）"]


def test_a_parent_pins_the_child_version_it_calls(make: Maker) -> None:
    harness = make(CHILD_V1, CHILD_V2, parent(pinned=1))
    started = harness.start("parent_case")
    assert [t.name for t in ready(harness, started.instance.id)] == ["复核"]
    with harness.db.transaction() as session, pytest.raises(DeployError) as info:
        deploy(session, parent(pinned=7), FUNCTIONS, deployed_by="admin")
    assert "version 7 of 'child_review', which is not deployed (deployed: 1, 2)" in info.value.message
    assert info.value.details["element"] == "call"


def test_a_call_to_a_process_not_deployed_names_the_element_and_what_to_do(make: Maker) -> None:
    harness = make()
    with harness.db.transaction() as session, pytest.raises(DeployError) as info:
        deploy(session, parent(), FUNCTIONS, deployed_by="admin")
    assert "calls process 'child_review', which is neither in these files nor deployed" in info.value.message
    assert "deploy 'child_review' first" in info.value.message
    assert (info.value.details["element"], info.value.details["file"]) == ("call", "parent_case.bpmn")
    with harness.db.sessions() as session:
        assert session.scalars(select(ProcessDefinition)).all() == []


def test_a_process_cannot_reach_itself_through_a_child(make: Maker) -> None:
    looping = process(
        "child_review",
        '<bpmn:startEvent id="cs"/>' + flow("cf1", "cs", "back")
        + '<bpmn:callActivity id="back" calledElement="parent_case"/>' + flow("cf2", "back", "ce")
        + '<bpmn:endEvent id="ce"/>',
    )  # fmt: skip
    harness = make(CHILD_V1, parent())
    with harness.db.transaction() as session, pytest.raises(DeployError) as info:
        deploy(session, looping, FUNCTIONS, deployed_by="admin")  # child v2 -> parent v1 -> child v1
    assert "'child_review' would be loaded twice: through back, child_review version 1" in info.value.message
    assert info.value.details["element"] == "back"


def test_a_decision_table_deployed_on_its_own_decides_a_case(make: Maker) -> None:
    harness = make({"band.dmn": TIER_DMN}, DECIDER)
    with harness.db.sessions() as session:
        table = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.process_id == "income_band_rate")
        ).one()
        decider = session.scalars(
            select(ProcessDefinition).where(ProcessDefinition.process_id == "decide_amount")
        ).one()
    assert (table.kind, table.name, table.version) == (DefinitionKind.DMN, "按收入类别定补贴", 1)
    assert decider.references[0]["definition_id"] == table.id and set(decider.sources) == {"decide_amount.bpmn"}
    done = harness.start("decide_amount", {"band": "subsistence", "amount": 300})
    assert done.instance.status is InstanceStatus.COMPLETED
    other = harness.start("decide_amount", {"band": "ordinary", "amount": 300})
    assert other.instance.status is InstanceStatus.COMPLETED
    amounts = [harness.engine.store.text(harness.instance(i.instance.id).serialized) for i in (done, other)]
    assert '"amount":300' in amounts[0] and '"amount":0' in amounts[1]
    # A case cannot run on a decision table, and a process may not take a decision's id.
    with harness.db.transaction() as session, pytest.raises(DeployError) as info:
        deploy(session, process("income_band_rate", '<bpmn:startEvent id="s"/>'), FUNCTIONS, deployed_by="admin")
    assert "already the id of a deployed decision table" in info.value.message


def test_a_dmn_with_two_decisions_is_refused_with_what_to_do() -> None:
    two = TIER_DMN.replace("</definitions>", '<decision id="second" name="二"/></definitions>')
    with pytest.raises(DeployError) as info:
        parse_bundle({"band.dmn": two}, FUNCTIONS)
    assert "holds 2 decisions" in info.value.message and "a file of its own" in info.value.message
    assert info.value.details["element"] == "second"


POOLS = (
    HEAD
    + """<bpmn:collaboration id="collab">
  <bpmn:participant id="p_ours" name="社区" processRef="ours"/>
  <bpmn:participant id="p_theirs" name="街道" processRef="theirs"/>
  <bpmn:participant id="p_box" name="政务外网"/>
  <bpmn:messageFlow id="mf1" sourceRef="notify" targetRef="p_box"/>
</bpmn:collaboration>
<bpmn:message id="m_notice" name="notice"/>
<bpmn:process id="ours" isExecutable="true">
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="notify"/>
  <bpmn:intermediateThrowEvent id="notify"><bpmn:messageEventDefinition messageRef="m_notice"/></bpmn:intermediateThrowEvent>
  <bpmn:sequenceFlow id="f2" sourceRef="notify" targetRef="e"/><bpmn:endEvent id="e"/>
</bpmn:process>
<bpmn:process id="theirs" isExecutable="EXEC">
  <bpmn:startEvent id="ts"/>
</bpmn:process>
"""
    + TAIL
)


def test_a_collaboration_with_two_executable_pools_is_refused_with_what_to_do() -> None:
    with pytest.raises(DeployError) as info:
        parse_bundle({"pools.bpmn": POOLS.replace('isExecutable="EXEC"', 'isExecutable="true"')}, FUNCTIONS)
    message = info.value.message
    assert "collaboration 'collab' has 2 executable pools (社区, 街道)" in message
    assert 'mark the pools of the other parties isExecutable="false"' in message
    assert info.value.details["element"] == "p_theirs"


def test_a_collaboration_with_one_executable_pool_deploys_and_runs(make: Maker) -> None:
    harness = make({"pools.bpmn": POOLS.replace('isExecutable="EXEC"', 'isExecutable="false"')})
    done = harness.start("ours")
    assert done.instance.status is InstanceStatus.COMPLETED


def test_collected_findings_name_every_refused_element() -> None:
    body = (
        lane("u1", name="nobody") + '<bpmn:startEvent id="s"/>' + flow("f1", "s", "u1")
        + '<bpmn:userTask id="u1"/>' + flow("f2", "u1", "svc") + '<bpmn:userTask id="u2"/>'
        + '<bpmn:serviceTask id="svc"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="no.such"/>'
        "</bpmn:extensionElements></bpmn:serviceTask>" + flow("f3", "svc", "e", "__import__('os')")
        + '<bpmn:endEvent id="e"/>'
    )  # fmt: skip
    with pytest.raises(DeployError) as info:
        parse_bundle(process("bad", body), FUNCTIONS, collect=True)
    found = {(f.element, f.text.msgid.split(":")[-1].strip()[:30]) for f in findings_of(info.value)}
    assert {element for element, _text in found} == {"svc", "f3", "u2", "l1"}
