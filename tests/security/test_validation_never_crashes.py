"""``huiju process validate`` on hostile or broken definitions: a one-line reason, never a traceback.

A property-based test (Hypothesis, a fixed seed and a bounded number of examples, so that it runs
the same in ``make test`` every time) mutates the shipped BPMN/DMN files and a small test process:
elements deleted, duplicated or moved (extension elements in unexpected places), attributes and
texts replaced by unusual characters, tags renamed, files cut short. Validation must pass or refuse
with a DeployError; anything else is a crash.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from huiju.cli import main
from huiju.errors import DeployError
from workflows_bpmn.definitions import PROCESS_FOLDER, read_sources
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.validation import parse_bundle

SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:collaboration id="c"><bpmn:participant id="p" processRef="small"/></bpmn:collaboration>
  <bpmn:process id="small" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="community_officer"><bpmn:flowNodeRef>review</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="x" value="y"/></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeCycle>"R3/PT1H"</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
UNUSUAL = ["'", '"', "]", "[", "')] | //*[('", "\\", "{{", "${x}", "\u202e", "社区'专干", "", " ", "a" * 300, "-1", "0",
           "__import__('os')", "<", "&amp;", "R/PT0S", "\x7f"]  # fmt: skip


def shipped() -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(PROCESS_FOLDER.glob("*.*"))
        if p.suffix in (".bpmn", ".dmn")
    }


SOURCES = {**shipped(), "small.bpmn": SMALL}
BUNDLES = [
    ["elderly_care_subsidy.bpmn", "elderly_care_subsidy_tier.dmn"],
    ["community_approval.bpmn"],
    ["service_request.bpmn"],
    ["rating_follow_up.bpmn"],
    ["small.bpmn"],
]
FUNCTIONS = host_functions()


class Mutated(dict[str, str]):
    """The mutated sources, shown in a failure report by the mutations that made them."""

    steps: list[str]

    def __repr__(self) -> str:
        return f"Mutated({'; '.join(self.steps)})"


@st.composite
def mutated_bundle(draw: st.DrawFn) -> Mutated:
    bundle = draw(st.sampled_from(BUNDLES))
    sources = Mutated({name: SOURCES[name] for name in bundle})
    sources.steps = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(sources)))
        sources[name], step = mutate(draw, sources[name])
        sources.steps.append(f"{name}: {step}")
    return sources


def mutate(draw: st.DrawFn, text: str) -> tuple[str, str]:
    kind = draw(st.sampled_from(["delete", "move", "duplicate", "attribute", "reference", "text", "rename",
                                 "extension", "cut"]))  # fmt: skip
    if kind == "cut":
        at = draw(st.integers(0, len(text)))
        return text[:at], f"cut at {at}"
    try:
        root = etree.fromstring(text.encode())
    except etree.XMLSyntaxError:
        tail = draw(st.sampled_from(UNUSUAL))
        return text + tail, f"{tail!r} appended"
    elements = [el for el in root.iter() if isinstance(el.tag, str)]
    target = draw(st.sampled_from(elements))
    step = f"{kind} {etree.QName(target).localname} {target.get('id') or ''} (line {target.sourceline})"
    parent = target.getparent()
    if kind == "delete" and parent is not None:
        parent.remove(target)
    elif kind == "move" and parent is not None:
        destination = draw(st.sampled_from(elements))
        if target not in destination.iterancestors() and destination is not target:
            destination.insert(draw(st.integers(0, len(destination))), target)
    elif kind == "duplicate" and parent is not None:
        parent.append(etree.fromstring(etree.tostring(target)))
    elif kind == "attribute":
        names = sorted(target.attrib) or ["id"]
        target.set(draw(st.sampled_from(names)), draw(st.sampled_from(UNUSUAL)))
    elif kind == "reference":  # an id and every reference to it renamed alike, to unusual characters
        lanes = sorted({(el.text or "").strip() for el in elements if etree.QName(el).localname == "flowNodeRef"})
        ids = sorted({el.get("id") for el in elements if el.get("id")})
        ids = lanes if lanes and draw(st.booleans()) else ids  # a task in a lane, half the time
        old = draw(st.sampled_from(ids))
        new = old + draw(st.sampled_from(UNUSUAL[:10]))
        step = f"id {old!r} and its references renamed {new!r}"
        for el in elements:
            for key, value in el.attrib.items():
                if value == old:
                    el.set(key, new)
            if (el.text or "").strip() == old:
                el.text = new
    elif kind == "text":
        target.text = draw(st.sampled_from(UNUSUAL))
    elif kind == "rename":
        namespace = etree.QName(target).namespace
        local = draw(st.sampled_from(["lane", "flowNodeRef", "userTask", "timeCycle", "extensionElements",
                                      "serviceTaskOperator", "decisionTable", "rule", "inputEntry", "text"]))  # fmt: skip
        target.tag = f"{{{namespace}}}{local}" if namespace else local
    elif kind == "extension":
        extension = etree.fromstring(
            '<bpmn:extensionElements xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"><spiffworkflow:serviceTaskOperator '
            'id="citizen_info.verify_identity"><spiffworkflow:parameters><spiffworkflow:parameter id="x" '
            'type="str" value="1"/></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>'
            "<spiffworkflow:preScript/><spiffworkflow:properties/></bpmn:extensionElements>"
        )
        target.insert(0, extension[draw(st.integers(0, len(extension) - 1))])
    return str(etree.tostring(root, encoding="unicode")), step


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(mutated_bundle())
def test_validation_passes_or_refuses_with_a_reason(sources: Mutated) -> None:
    try:
        parse_bundle(sources, FUNCTIONS)
    except DeployError as refused:
        reason = refused.localized("en")
        assert reason.strip() and "Traceback" not in reason
        for said in (reason, refused.localized("zh_CN")):  # words: no checker's notation, no repr
            assert not any(raw in said for raw in ("{http", "Element '", "xs:", "Error(", "None")), said


@pytest.mark.parametrize(
    ("mutation", "why"),
    [
        (lambda t: t.replace("review", "rev'iew&quot;]"), ""),
        (
            lambda t: t.replace(
                "<bpmn:laneSet",
                "<bpmn:extensionElements><spiffworkflow:properties/></bpmn:extensionElements><bpmn:laneSet",
            ),
            "",
        ),  # fmt: skip
        (lambda t: t.replace('"R3/PT1H"', '"R/PT0S"'), "repeats every"),
        (lambda t: t.replace('"R3/PT1H"', '"R5/PT0.5S"'), "repeats every"),
        (lambda t: t.replace('"R3/PT1H"', '"R/P0D"'), "repeats every"),
    ],
    ids=["lane-ref-quotes", "extension-in-process", "cycle-zero", "cycle-half-second", "cycle-zero-days"],
)
def test_the_cli_prints_one_line_for_malformed_files(tmp_path: Path, mutation: object, why: str) -> None:
    path = tmp_path / "small.bpmn"
    path.write_text(mutation(SMALL), encoding="utf-8")  # type: ignore[operator]
    result = CliRunner().invoke(main, ["process", "validate", str(path)], env={"HUIJU_LANG": "en"})
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    if why:
        assert result.exit_code == 2, result.output
        assert why in result.output and len(result.output.strip().splitlines()) == 1, result.output
    else:  # one line, or (``validate`` says every problem) one per refusal and how many there were
        lines = result.output.strip().splitlines()
        assert result.exit_code in (0, 2) and lines, result.output
        assert len(lines) == 1 or (
            all(line.startswith("small.bpmn: ") for line in lines[:-1])
            and lines[-1] == f"error: {len(lines) - 1} problem(s) found; nothing was deployed"
        )


def test_a_malformed_dmn_beside_the_bpmn_is_a_one_line_reason(tmp_path: Path) -> None:
    for path in PROCESS_FOLDER.glob("elderly_care_subsidy*"):
        shutil.copy(path, tmp_path / path.name)
    dmn = tmp_path / "elderly_care_subsidy_tier.dmn"
    dmn.write_text(dmn.read_text(encoding="utf-8")[:500], encoding="utf-8")
    with pytest.raises(DeployError):
        read_sources([tmp_path / "elderly_care_subsidy.bpmn"])
    result = CliRunner().invoke(
        main, ["process", "validate", str(tmp_path / "elderly_care_subsidy.bpmn")], env={"HUIJU_LANG": "en"}
    )
    assert result.exit_code == 2 and "elderly_care_subsidy_tier.dmn" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
