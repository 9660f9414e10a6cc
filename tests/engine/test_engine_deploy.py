"""Deploy-time checks (uploaded BPMN is untrusted) and versioned deployment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from engine_support import OFFICER, REVIEWER, CaseDriver

from huiju.errors import DeployError
from huiju.models import CaseStatus
from huiju.runtime import Runtime
from workflows_bpmn.definitions import bundled_process_files, deploy, list_definitions, read_sources
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.validation import parse_bundle

BPMN_FILE = "elderly_care_subsidy.bpmn"
# The subsidy process and the decision table it calls (read_sources finds the DMN); other shipped
# processes are deployed each on its own.
SHIPPED: dict[str, str] = read_sources([p for p in bundled_process_files() if p.name == BPMN_FILE])
FUNCTIONS: Mapping[str, Callable[..., Any]] = host_functions()

SMALL_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_small" targetNamespace="urn:t">
  <bpmn:process id="small" isExecutable="true">
"""
SMALL_TAIL = """
  </bpmn:process>
</bpmn:definitions>
"""


def small(body: str) -> dict[str, str]:
    return {"small.bpmn": SMALL_HEAD + body + SMALL_TAIL}


def mutated(old: str, new: str) -> dict[str, str]:
    text = SHIPPED[BPMN_FILE]
    assert text.count(old) == 1, old
    return {**SHIPPED, BPMN_FILE: text.replace(old, new)}


def refused(sources: Mapping[str, str]) -> str:
    with pytest.raises(DeployError) as info:
        parse_bundle(sources, FUNCTIONS)
    return info.value.message


def test_the_shipped_process_validates() -> None:
    assert set(SHIPPED) == {BPMN_FILE, "elderly_care_subsidy_tier.dmn"}  # the DMN is found by read_sources
    bundle = parse_bundle(SHIPPED, FUNCTIONS)
    assert bundle.process_id == "elderly_care_subsidy"
    assert bundle.name == "居家养老服务补贴"
    assert {"intake", "street_review", "supplement", "identity_incident"} <= set(bundle.spec.task_specs)


@pytest.mark.parametrize("path", bundled_process_files(), ids=lambda p: p.name)
def test_every_shipped_process_validates_on_its_own(path: Path) -> None:
    bundle = parse_bundle(read_sources([path]), FUNCTIONS)
    assert bundle.process_id == path.stem


def test_script_task_is_refused_naming_it() -> None:
    message = refused(
        small(
            """<bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
            <bpmn:scriptTask id="do_evil" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming>
              <bpmn:script>import os; os.system("id")</bpmn:script></bpmn:scriptTask>
            <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="do_evil"/>"""
        )
    )
    assert "do_evil" in message and "script task" in message


@pytest.mark.parametrize("tag", ["preScript", "postScript"])
def test_pre_and_post_scripts_are_refused(tag: str) -> None:
    message = refused(
        mutated(
            '<spiffworkflow:serviceTaskOperator id="citizen_info.query_person"',
            f"<spiffworkflow:{tag}>import os</spiffworkflow:{tag}>"
            '<spiffworkflow:serviceTaskOperator id="citizen_info.query_person"',
        )
    )
    assert "query_person" in message and tag in message


def test_unknown_service_operation_is_refused_naming_task_and_operation() -> None:
    message = refused(mutated('id="citizen_info.query_person"', 'id="citizen_info.drop_everything"'))
    assert "serviceTask 'query_person'" in message
    assert "citizen_info.drop_everything" in message


@pytest.mark.parametrize(
    "expression",
    [
        'intake["decision"].__class__',
        '__import__("os")',
        'open("/etc/passwd")',
        'getattr(intake, "x")',
        "[d for d in intake]",
    ],
)
def test_unsafe_condition_is_refused_naming_the_flow(expression: str) -> None:
    message = refused(
        mutated(
            '>intake["decision"] == "accept"<',
            f">{expression.replace('&', '&amp;').replace('<', '&lt;')}<",
        )
    )
    assert "sequenceFlow 'flow_intake_accept'" in message


@pytest.mark.parametrize(
    "expression", ["str(case_number).__len__()", "__import__(&quot;os&quot;)", "eval(&quot;1&quot;)"]
)
def test_unsafe_service_parameter_is_refused_naming_the_task(expression: str) -> None:
    message = refused(mutated('value="str(case_number)"', f'value="{expression}"'))
    assert "serviceTask 'report_to_egov'" in message


def test_unsafe_timer_is_refused_naming_the_event() -> None:
    message = refused(mutated('>limits["supplement_wait"]<', '>open("x")<'))
    assert "timer_supplement" in message


def test_unsafe_dmn_cell_is_refused() -> None:
    dmn = "elderly_care_subsidy_tier.dmn"
    text = SHIPPED[dmn].replace('<text>"A"</text>', "<text>().__class__</text>", 1)
    with pytest.raises(DeployError, match="rule_2_out_1"):
        parse_bundle({**SHIPPED, dmn: text}, FUNCTIONS)


def test_user_task_outside_a_lane_is_refused() -> None:
    message = refused(mutated("<bpmn:flowNodeRef>intake</bpmn:flowNodeRef>", ""))
    assert "userTask 'intake'" in message and "lane" in message


def test_lane_that_is_no_role_is_refused() -> None:
    message = refused(
        mutated(
            '<bpmn:lane id="street_reviewer" name="street_reviewer">', '<bpmn:lane id="street_reviewer" name="mayor">'
        )
    )
    assert "mayor" in message


def test_not_xml_is_refused() -> None:
    message = refused({"broken.bpmn": "<bpmn:definitions><unclosed></bpmn:definitions>"})
    assert "broken.bpmn" in message and "not well-formed" in message


def test_xml_that_is_not_bpmn_is_refused() -> None:
    message = refused({"page.bpmn": '<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'})
    assert "page.bpmn" in message and "neither BPMN nor DMN" in message


def test_xml_in_no_namespace_is_refused_in_words() -> None:
    message = refused({"x.bpmn": "<foo/>"})
    assert message == "x.bpmn: neither BPMN nor DMN (root element foo, in no namespace)"


def test_a_flow_to_nowhere_and_a_process_without_start_are_named() -> None:
    """Said before SpiffWorkflow reads the file: its own words for a flow to a missing element
    speak of "two items with the same ID"."""
    message = refused(small('<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="nope"/>'))
    assert message == "small.bpmn: sequenceFlow 'f' (line 5) joins 'nope', which is not an element of its process"
    message = refused(small('<bpmn:endEvent id="e"/>'))
    assert message == "small.bpmn: process 'small' (line 4) has no start event"
    twice = {**small('<bpmn:startEvent id="s"/>'), "again.bpmn": SMALL_HEAD + '<bpmn:startEvent id="s"/>' + SMALL_TAIL}
    assert refused(twice) == "again.bpmn: process 'small' is defined in small.bpmn too"
    idle = {"idle.bpmn": SMALL_HEAD.replace('isExecutable="true"', 'isExecutable="false"') + SMALL_TAIL}
    assert refused(idle) == 'no executable process: mark the one to deploy isExecutable="true"'


def test_doctype_and_entities_are_refused() -> None:
    head, rest = SHIPPED[BPMN_FILE].split("\n", 1)
    xxe = f'{head}\n<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' + rest.replace(
        "<bpmn:documentation>居家养老服务补贴", "<bpmn:documentation>&xxe;", 1
    )
    message = refused({**SHIPPED, BPMN_FILE: xxe})
    assert BPMN_FILE in message and "DOCTYPE" in message
    assert "root:" not in message


def test_billion_laughs_is_refused() -> None:
    head, rest = SHIPPED[BPMN_FILE].split("\n", 1)
    entities = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    lol = "".join(entities)
    message = refused({BPMN_FILE: f"{head}\n<!DOCTYPE d [{lol}]>\n{rest}"})
    assert "DOCTYPE" in message


@pytest.mark.parametrize("sources", [{}, {"empty.bpmn": ""}, {"blank.bpmn": "   "}])
def test_empty_upload_is_refused(sources: dict[str, str]) -> None:
    refused(sources)


def test_a_dmn_alone_is_a_decision_table_known_by_its_decision() -> None:
    dmn = "elderly_care_subsidy_tier.dmn"
    bundle = parse_bundle({dmn: SHIPPED[dmn]}, FUNCTIONS)
    assert (bundle.kind.value, bundle.process_id, bundle.name) == ("dmn", "subsidy_tier", "居家养老服务补贴等级判定")
    assert "only DMN" in refused({dmn: SHIPPED[dmn], "other.dmn": SHIPPED[dmn].replace("subsidy_tier", "t2")})


def test_deploy_versions_and_running_instances(rt: Runtime) -> None:
    functions = host_functions()
    with rt.db.transaction() as session:
        again = deploy(session, SHIPPED, functions, deployed_by="admin", cache=rt.engine.cache)
        assert again.created is False and again.definition.version == 1
        v1_id = again.definition.id
    old_case = CaseDriver(rt).submit()
    old_case.settle_all()
    assert old_case.status is CaseStatus.INTAKE

    changed = mutated("<bpmn:documentation>居家养老服务补贴：", "<bpmn:documentation>居家养老服务补贴（2026年修订）：")
    with rt.db.transaction() as session:
        v2 = deploy(session, changed, functions, deployed_by="admin", cache=rt.engine.cache)
        assert v2.created is True and v2.definition.version == 2
        v2_id = v2.definition.id
        assert deploy(session, changed, functions, deployed_by="admin").created is False
    with rt.db.sessions() as session:
        rows = [(d.process_id, d.version, running) for d, running in list_definitions(session)
                if d.process_id == "elderly_care_subsidy"]  # fmt: skip
    assert rows == [("elderly_care_subsidy", 1, 1), ("elderly_care_subsidy", 2, 0)]

    new_case = CaseDriver(rt).submit()
    assert new_case.instance().definition_id == v2_id
    assert old_case.instance().definition_id == v1_id

    old_case.complete(OFFICER, "accept")
    old_case.complete(REVIEWER, "approve")
    old_case.settle_all()
    assert old_case.instance().definition_id == v1_id
    assert old_case.case().outcome == "approved"
    with rt.db.sessions() as session:
        counts = [(d.version, running) for d, running in list_definitions(session)
                  if d.process_id == "elderly_care_subsidy"]  # fmt: skip
    assert counts == [(1, 0), (2, 1)]
