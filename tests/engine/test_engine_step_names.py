"""Steps named in both languages (workflows_bpmn.step_names): every named step of the shipped
processes has an English name; pages in English show it, kept between requests until a deployment
changes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from huiju.runtime import Runtime
from workflows_bpmn.definitions import bundled_process_files, deploy, read_sources
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.step_names import StepNames, english_names, own_english_name, step_names
from workflows_bpmn.validation import BPMN_NS

#: What a person sees of a process: its steps (flow nodes), the labels of its branches, the process.
NAMED = ("process", "startEvent", "endEvent", "boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent",
         "serviceTask", "userTask", "businessRuleTask", "scriptTask", "receiveTask", "sendTask", "manualTask",
         "task", "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
         "eventBasedGateway", "sequenceFlow")  # fmt: skip

SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="urn:t">
  <bpmn:process id="small" name="小流程" isExecutable="true">
    <bpmn:subProcess id="outer" name="外层">
      <bpmn:userTask id="inner" name="内层审核">
        <bpmn:extensionElements><spiffworkflow:properties>
          <spiffworkflow:property name="decisions" value="done"/>
          <spiffworkflow:property name="name_en" value=" Inner review "/>
        </spiffworkflow:properties></bpmn:extensionElements>
      </bpmn:userTask>
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("path", bundled_process_files(), ids=lambda p: p.name)
def test_every_named_step_of_a_shipped_process_has_an_english_name(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    unnamed = [
        f"{element.get('id')} ({element.get('name')})"
        for tag in NAMED
        for element in root.iter(f"{{{BPMN_NS}}}{tag}")
        if element.get("name") and not own_english_name(element)
    ]
    assert unnamed == []


def test_a_step_takes_its_own_english_name_not_one_of_the_steps_it_holds() -> None:
    assert english_names({"small.bpmn": SMALL, "tier.dmn": "<not-read/>"}) == {"内层审核": "Inner review"}


def test_a_name_is_shown_in_the_language_asked_for() -> None:
    names = StepNames({"社区受理": "Community intake"})
    assert names.of("社区受理", "en") == "Community intake"
    assert names.of("社区受理", "zh_CN") == names.of("社区受理", None) == "社区受理"
    assert names.of("无英文名", "en") == "无英文名"  # a step the process gives no English name
    assert names.of(None, "en") == names.of("", "zh_CN") == ""


def test_a_deployment_that_renames_a_step_is_shown_at_once(rt: Runtime) -> None:
    with rt.db.sessions() as session:
        assert step_names(session).of("社区受理", "en") == "Community intake"
    sources = read_sources([p for p in bundled_process_files() if p.name == "elderly_care_subsidy.bpmn"])
    text = sources["elderly_care_subsidy.bpmn"]
    old = '<spiffworkflow:property name="name_en" value="Community intake"/>'
    assert text.count(old) == 1
    renamed = text.replace(old, '<spiffworkflow:property name="name_en" value="Intake at the community"/>')
    with rt.db.transaction() as session:
        result = deploy(session, {**sources, "elderly_care_subsidy.bpmn": renamed}, host_functions(),
                        deployed_by="admin")  # fmt: skip
        assert result.created
    with rt.db.sessions() as session:
        assert step_names(session).of("社区受理", "en") == "Intake at the community"  # the newest deployment's
        assert step_names(session).of("街道审核", "en") == "Street review"
