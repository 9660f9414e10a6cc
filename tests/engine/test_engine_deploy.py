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
from workflows_bpmn.models import ProcessDefinition
from workflows_bpmn.validation import findings_of, parse_bundle

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
    assert message == (
        "broken.bpmn: the XML is broken at line 1, column 18: a prefix whose namespace is not declared (xmlns:...)"
    )


def test_xml_that_is_not_bpmn_is_refused() -> None:
    message = refused({"page.bpmn": '<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'})
    assert message == ("page.bpmn: neither a BPMN 2.0 nor a DMN file: its root element <html> is of the namespace "
                       "http://www.w3.org/1999/xhtml")  # fmt: skip


def test_xml_in_no_namespace_is_refused_in_words() -> None:
    message = refused({"x.bpmn": "<foo/>"})
    assert message == "x.bpmn: neither a BPMN 2.0 nor a DMN file: its root element <foo> is in no namespace"


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


# What an administrator plausibly gets wrong, and what the upload says: the element, the attribute and
# the line in words, in the reader's language; never the checker's English, a Python repr or the
# schema's Clark notation ({http://www.omg.org/spec/BPMN/20100524/MODEL}...).
FLOW = '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/>'
TIMER = '<bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition><bpmn:timeDuration>{}</bpmn:timeDuration>' \
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"  # fmt: skip
DMN = "elderly_care_subsidy_tier.dmn"
REFUSALS: dict[str, tuple[dict[str, str], str, str]] = {
    "no targetNamespace": (
        {"small.bpmn": (SMALL_HEAD + FLOW + SMALL_TAIL).replace(' targetNamespace="urn:t"', "")},
        "small.bpmn: definitions 'defs_small' (line 3) lacks the attribute targetNamespace, which BPMN 2.0 requires",
        "small.bpmn：definitions“defs_small”（第3行）缺少 BPMN 2.0 要求的属性 targetNamespace",
    ),
    "unknown element": (
        small(FLOW + '<bpmn:approvalTask id="x"/>'),
        "small.bpmn: approvalTask 'x' (line 5): BPMN 2.0 has no element approvalTask",
        "small.bpmn：approvalTask“x”（第5行）：BPMN 2.0 中没有 approvalTask 这种元素",
    ),
    "element out of place": (
        small(
            '<bpmn:startEvent id="s"><bpmn:outgoing>f</bpmn:outgoing><bpmn:documentation>d</bpmn:documentation>'
            "</bpmn:startEvent>"
        ),  # fmt: skip
        "small.bpmn: documentation (line 5) may not stand here, inside startEvent 's' (line 5) (in its place: "
        "outgoing, property, dataOutput, dataOutputAssociation, outputSet, eventDefinition, cancelEventDefinition, "
        "compensateEventDefinition, conditionalEventDefinition, errorEventDefinition)",
        "small.bpmn：documentation（第5行）不能放在 startEvent“s”（第5行）中的这个位置（此处应为：outgoing, property, "
        "dataOutput, dataOutputAssociation, outputSet, eventDefinition, cancelEventDefinition, "
        "compensateEventDefinition, conditionalEventDefinition, errorEventDefinition）",
    ),
    "unknown attribute": (
        small(FLOW.replace('<bpmn:endEvent id="e"', '<bpmn:endEvent id="e" colour="red"')),
        "small.bpmn: endEvent 'e' (line 5): BPMN 2.0 has no attribute colour on this element",
        "small.bpmn：endEvent“e”（第5行）：BPMN 2.0 在这种元素上没有属性 colour",
    ),
    "attribute of a wrong type": (
        {"small.bpmn": SMALL_HEAD.replace('isExecutable="true"', 'isExecutable="yes"') + FLOW + SMALL_TAIL},
        "small.bpmn: process 'small' (line 4): isExecutable 'yes' must be true or false",
        "small.bpmn：process“small”（第4行）：isExecutable 的值“yes”应为 true 或 false",
    ),
    "duplicate id": (
        small(FLOW + '\n<bpmn:endEvent id="e"/>'),
        "small.bpmn: endEvent 'e' (line 6): the id 'e' is taken already by endEvent 'e' (line 5)",
        "small.bpmn：endEvent“e”（第6行）：id“e”已被 endEvent“e”（第5行）占用",
    ),
    "text among elements": (
        small(FLOW + "approve it"),
        "small.bpmn: process 'small' (line 4) holds text where only elements may stand",
        "small.bpmn：process“small”（第4行）中有文字，而这里只能放元素",
    ),
    "gateway with no outgoing flow": (
        small(
            '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw"/>'
            '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="gw"/>'
        ),  # fmt: skip
        "small.bpmn: exclusiveGateway 'gw' (line 5) has no outgoing flow: a gateway must lead somewhere",
        "small.bpmn：exclusiveGateway“gw”（第5行）没有流出的顺序流：网关必须通向某处",
    ),
    "boundary event attached to nothing": (
        small(
            FLOW + '\n<bpmn:boundaryEvent id="b" attachedToRef="ghost"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        ),
        "small.bpmn: boundaryEvent 'b' (line 6) is attached to 'ghost', which is not an activity of its process",
        "small.bpmn：boundaryEvent“b”（第6行）附着在“ghost”上，而它不是本流程中的活动",
    ),
    "boundary event attached to no attribute": (
        small(FLOW + '\n<bpmn:boundaryEvent id="b"/>'),
        "small.bpmn: boundaryEvent 'b' (line 6) lacks the attribute attachedToRef, which BPMN 2.0 requires",
        "small.bpmn：boundaryEvent“b”（第6行）缺少 BPMN 2.0 要求的属性 attachedToRef",
    ),
    "a name longer than the inbox keeps": (
        small(FLOW.replace('<bpmn:endEvent id="e"', f'<bpmn:endEvent id="e" name="{"审" * 201}"')),
        "small.bpmn: endEvent 'e' (line 5): its name is 201 characters long; at most 200",
        "small.bpmn：endEvent“e”（第5行）：名称长 201 个字符，最多 200 个",
    ),
    "process without an id": (
        {"small.bpmn": SMALL_HEAD.replace('process id="small"', "process") + FLOW + SMALL_TAIL},
        "small.bpmn: process (line 4) has no id; the engine finds it by its id",
        "small.bpmn：process（第4行）没有 id，引擎凭 id 找到它",
    ),
    "timer that is no ISO 8601 time": (
        small(FLOW + "\n" + TIMER.format('"ten minutes"')),
        "small.bpmn: intermediateCatchEvent 't' (line 6): 'ten minutes' is not an ISO 8601 time such as \"PT1H\"",
        'small.bpmn：intermediateCatchEvent“t”（第6行）：“ten minutes”不是 ISO 8601 格式的时间，应如 "PT1H"',
    ),
    "timer written in words": (
        small(FLOW + "\n" + TIMER.format("2 小时")),
        "small.bpmn: intermediateCatchEvent 't' (line 6): a timer's duration is written in ISO 8601, between quotes: "
        'for “2 小时” write "PT2H"',
        'small.bpmn：intermediateCatchEvent“t”（第6行）：计时器的时长要用 ISO 8601 格式写在引号里：“2 小时”应写作 "PT2H"',
    ),
    "timer written in words between quotes": (
        small(FLOW + "\n" + TIMER.format('"3 days"')),
        "small.bpmn: intermediateCatchEvent 't' (line 6): a timer's duration is written in ISO 8601, between quotes: "
        'for “3 days” write "P3D"',
        'small.bpmn：intermediateCatchEvent“t”（第6行）：计时器的时长要用 ISO 8601 格式写在引号里：“3 days”应写作 "P3D"',
    ),
    "ISO 8601 timer without its quotes": (
        small(FLOW + "\n" + TIMER.format("PT15M")),
        "small.bpmn: intermediateCatchEvent 't' (line 6): a timer's duration is written in ISO 8601, between quotes: "
        'for “PT15M” write "PT15M"',
        'small.bpmn：intermediateCatchEvent“t”（第6行）：计时器的时长要用 ISO 8601 格式写在引号里：“PT15M”应写作 "PT15M"',
    ),
    "expression that does not parse": (
        small(
            '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>\n<bpmn:sequenceFlow id="f" sourceRef="s" '
            'targetRef="e"><bpmn:conditionExpression>len(form["name"] &gt; 3</bpmn:conditionExpression>'
            "</bpmn:sequenceFlow>"
        ),  # fmt: skip
        "small.bpmn: sequenceFlow 'f' (line 6): the expression 'len(form[\"name\"] > 3' is not written correctly: "
        "a bracket is not closed",
        'small.bpmn：sequenceFlow“f”（第6行）：表达式“len(form["name"] > 3”写法有误：有括号没有闭合',
    ),
    "DMN table with a bad hit policy": (
        {DMN: SHIPPED[DMN].replace('hitPolicy="FIRST"', 'hitPolicy="SOMETIMES"')},
        f"{DMN}: decisionTable 'table_subsidy_tier' (line 4): hitPolicy 'SOMETIMES' is not one of UNIQUE, FIRST, "
        "PRIORITY, ANY, COLLECT, RULE ORDER, OUTPUT ORDER",
        f"{DMN}：decisionTable“table_subsidy_tier”（第4行）：hitPolicy 的值“SOMETIMES”不在可选值之中（UNIQUE, FIRST, "
        "PRIORITY, ANY, COLLECT, RULE ORDER, OUTPUT ORDER）",
    ),
    "an event naming a message the file does not define": (
        small(
            FLOW + '\n<bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="reply"/>'
            "</bpmn:intermediateCatchEvent>"
        ),  # fmt: skip
        "small.bpmn: intermediateCatchEvent 'wait' (line 6) names messageRef 'reply', which the file does not define",
        "small.bpmn：intermediateCatchEvent“wait”（第6行）引用的 messageRef“reply”在文件中没有定义",
    ),
    "an event-based gateway leading to a task": (
        small(
            '<bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="gw"/>\n<bpmn:task id="t"/>'
            '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="gw"/><bpmn:sequenceFlow id="g" sourceRef="gw" '
            'targetRef="t"/>'
        ),  # fmt: skip
        "small.bpmn: eventBasedGateway 'gw' (line 5) leads to task 't' (line 6): an event-based gateway must lead to "
        "what waits for an event (an intermediate catch event or a receive task)",
        "small.bpmn：eventBasedGateway“gw”（第5行）通向 task“t”（第6行）：事件网关只能通向等待事件的元素（中间捕获事件或"
        "接收任务）",
    ),
    "a prefix with no namespace": (
        small(FLOW + '\n<bpmn:task id="t"/><bpmn:boundaryEvent id="b" attachedToRef="foo:t"/>'),
        "small.bpmn: boundaryEvent 'b' (line 6): attachedToRef 'foo:t' has a prefix whose namespace is not declared "
        "(xmlns:...)",
        "small.bpmn：boundaryEvent“b”（第6行）：attachedToRef 的值“foo:t”带有未声明命名空间的前缀（xmlns:...）",
    ),
    "XML that is not well-formed": (
        {"small.bpmn": SMALL_HEAD + '<bpmn:startEvent id="s">' + SMALL_TAIL},
        "small.bpmn: the XML is broken at line 6, column 18: a closing tag does not match the element it closes",
        "small.bpmn：XML 在第6行第18列有误：结束标签与它要结束的元素不符",
    ),
    "an empty file": (
        {"small.bpmn": ""},
        "small.bpmn: the file is empty",
        "small.bpmn：文件是空的",
    ),
    "a file that is no XML": (
        {"small.bpmn": "PK\x03\x04 a zip archive"},
        "small.bpmn: not an XML file: BPMN and DMN files are XML, as a process modeler saves them",
        "small.bpmn：不是 XML 文件：BPMN 和 DMN 文件是流程建模工具保存的 XML",
    ),
    "the BPMN 2.0 draft's namespace": (
        {"old.bpmn": '<definitions xmlns="http://schema.omg.org/spec/BPMN/2.0" id="d"/>'},
        "old.bpmn: written for a draft of BPMN 2.0 (http://schema.omg.org/spec/BPMN/2.0), not BPMN 2.0 itself: save "
        "it again from a BPMN 2.0 modeler",
        "old.bpmn：按 BPMN 2.0 的草案（http://schema.omg.org/spec/BPMN/2.0）编写，而不是 BPMN 2.0 本身：请用 BPMN 2.0 "
        "建模工具重新保存",
    ),
    "an XPDL file of BPMN 1.x": (
        {"old.xpdl": '<Package xmlns="http://www.wfmc.org/2009/XPDL2.2" Id="p"/>'},
        "old.xpdl: an XPDL file (the exchange format of BPMN 1.x), not BPMN 2.0: export the process from the modeler "
        "as BPMN 2.0 XML",
        "old.xpdl：这是 XPDL 文件（BPMN 1.x 的交换格式），不是 BPMN 2.0：请在建模工具中把流程导出为 BPMN 2.0 XML",
    ),
}


@pytest.mark.parametrize("case", REFUSALS, ids=str)
def test_refusals_say_what_and_where_in_both_languages(case: str) -> None:
    sources, english, chinese = REFUSALS[case]
    with pytest.raises(DeployError) as info:
        parse_bundle(sources, FUNCTIONS)
    assert info.value.localized("en") == english
    assert info.value.localized("zh_CN") == chinese
    with pytest.raises(DeployError) as collected:  # every refusal, each in words
        parse_bundle(sources, FUNCTIONS, collect=True)
    for finding in findings_of(collected.value):
        for text in (finding.text.localize("en"), finding.text.localize("zh_CN")):
            assert "{http" not in text and "xs:" not in text and "Element '" not in text, text


def test_a_file_declaring_another_encoding_is_read_as_the_text_it_is() -> None:
    """The text reaches the checks decoded: a declaration of GBK, as Chinese tools write, no longer holds."""
    text = SHIPPED[BPMN_FILE].replace("encoding='UTF-8'", "encoding='GBK'", 1)
    assert "encoding='GBK'" in text
    assert parse_bundle({**SHIPPED, BPMN_FILE: text}, FUNCTIONS).name == "居家养老服务补贴"


def test_what_only_the_engine_refuses_is_said_in_words() -> None:
    """SpiffWorkflow's refusals that the schema lets pass: a task with two outgoing flows."""
    body = ('<bpmn:startEvent id="s"/><bpmn:task id="t" name="登记"/><bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
            '<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/>\n'
            '<bpmn:sequenceFlow id="f1" sourceRef="t" targetRef="e1"/><bpmn:sequenceFlow id="f2" sourceRef="t" '
            'targetRef="e2"/>')  # fmt: skip
    with pytest.raises(DeployError) as info:
        parse_bundle(small(body), FUNCTIONS)
    assert info.value.localized("en") == (
        "small.bpmn: task 't' (line 5): it has several outgoing flows: only a gateway may split the flow"
    )
    assert info.value.localized("zh_CN") == "small.bpmn：task“t”（第5行）：它有多条流出的顺序流：只有网关才能分流"


def test_a_version_deployed_before_a_check_was_added_still_loads_for_its_cases(rt: Runtime) -> None:
    """A deployed version is not refused again for what a check added since finds in it: its running
    cases go on. A new upload of the same file is refused."""
    sources = small(
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw"/><bpmn:sequenceFlow id="f" sourceRef="s" '
        'targetRef="gw"/>'
    )
    with pytest.raises(DeployError, match="has no outgoing flow"):
        parse_bundle(sources, FUNCTIONS)
    with rt.db.transaction() as session:
        old = ProcessDefinition(process_id="small", version=1, name="small", content_hash="0" * 64, sources=sources,
                                deployed_by="admin", references=[])  # fmt: skip
        session.add(old)
        session.flush()
        spec, _subprocesses = rt.engine.cache.get_by_id(session, old.id)
    assert "gw" in spec.task_specs
