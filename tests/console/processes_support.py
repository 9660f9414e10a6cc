"""Helpers of the process pages' tests: the shipped subsidy process, and a version 2 of it with one
more user step (材料核对, community officer) between acceptance and the street's review."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from huiju.models import AuditEntry
from huiju.runtime import Runtime
from huiju.services import processes
from huiju.services.actors import load_actor
from workflows_bpmn.definitions import bundled_process_files, read_sources
from workflows_bpmn.models import ProcessDefinition

PROCESS = "elderly_care_subsidy"
BPMN = f"{PROCESS}.bpmn"


def subsidy() -> dict[str, str]:
    return read_sources([p for p in bundled_process_files() if p.name == BPMN])


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_check_step(sources: dict[str, str] | None = None) -> dict[str, str]:
    """Version 2: accepted cases are checked (材料核对) by the community before the street reviews them."""
    sources = dict(sources or subsidy())
    text = sources[BPMN]
    text = replaced(text, '<bpmn:sequenceFlow id="flow_intake_accept" name="受理" sourceRef="gw_intake" '
                          'targetRef="street_review">',
                    '<bpmn:sequenceFlow id="flow_intake_accept" name="受理" sourceRef="gw_intake" '
                    'targetRef="check_materials">')  # fmt: skip
    text = replaced(
        text, "<bpmn:incoming>flow_intake_accept</bpmn:incoming>", "<bpmn:incoming>flow_checked</bpmn:incoming>"
    )
    text = replaced(
        text,
        "<bpmn:flowNodeRef>intake</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>intake</bpmn:flowNodeRef><bpmn:flowNodeRef>check_materials</bpmn:flowNodeRef>",
    )
    step = (
        '<bpmn:userTask id="check_materials" name="材料核对"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="case_status" value="review"/>'
        '<spiffworkflow:property name="decisions" value="done"/></spiffworkflow:properties></bpmn:extensionElements>'
        "<bpmn:incoming>flow_intake_accept</bpmn:incoming><bpmn:outgoing>flow_checked</bpmn:outgoing></bpmn:userTask>"
        '<bpmn:sequenceFlow id="flow_checked" sourceRef="check_materials" targetRef="street_review"/>'
    )
    text = replaced(text, '<bpmn:userTask id="street_review"', step + '<bpmn:userTask id="street_review"')
    sources[BPMN] = text
    return sources


def deploy(runtime: Runtime, sources: dict[str, str]) -> ProcessDefinition:
    with runtime.db.transaction() as session:
        result = processes.deploy_files(session, load_actor(session, "admin"), sources, runtime.engine.cache)
        assert result.created
        return result.definition


def version_id(runtime: Runtime, version: int, process_id: str = PROCESS) -> int:
    with runtime.db.sessions() as session:
        return session.scalars(
            select(ProcessDefinition.id).where(
                ProcessDefinition.process_id == process_id, ProcessDefinition.version == version
            )  # fmt: skip
        ).one()


def without_supplement(sources: dict[str, str]) -> dict[str, str]:
    """A version without the resident's supplement step (补正): intake asks by SMS and waits no more."""
    from lxml import etree

    sources = dict(sources)
    root = etree.fromstring(sources[BPMN].encode())
    gone = {"supplement", "timer_supplement", "end_supplement_expired", "flow_supplement_done",
            "flow_supplement_expired"}  # fmt: skip
    for element in root.iter():
        if element.get("id") == "flow_supplement_sms":
            element.set("targetRef", "intake")
        if element.get("id") == "intake":  # what came back from the supplement now comes from its SMS
            for incoming in element.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}incoming"):
                if incoming.text == "flow_supplement_done":
                    incoming.text = "flow_supplement_sms"
    for element in list(root.iter()):
        if element.get("id") in gone or element.get("bpmnElement") in gone or (element.text or "").strip() in gone:
            element.getparent().remove(element)
    sources[BPMN] = etree.tostring(root, encoding="unicode")
    return sources


def audited(runtime: Runtime, *actions: str) -> list[dict[str, Any]]:
    """The audit trail's entries of these actions, oldest first, their before and after as dictionaries."""
    with runtime.db.sessions() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.id))
        return [
            {"actor": r.actor, "action": r.action, "case_number": r.case_number, "definition": r.definition,
             "detail": r.detail, "channel": r.channel, "before": json.loads(r.before) if r.before else None,
             "after": json.loads(r.after) if r.after else None}
            for r in rows
        ]  # fmt: skip
