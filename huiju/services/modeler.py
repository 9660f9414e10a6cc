"""What the modeler's properties panel offers (流程建模): the properties Huiju reads in BPMN, each
with its choices in words — lanes and their roles, user-task decisions, case statuses, outcomes,
the service operations of the adapter registry with their parameters, and the processes and
decision tables a call activity or a decision task may call."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters import registry as adapter_registry
from huiju.errors import InputError
from huiju.i18n import Message, _
from huiju.labels import DECISIONS, OUTCOMES, ROLES, STATUSES
from huiju.services.actors import Actor
from huiju.services.processes import edited_sources, require_editor
from workflows_bpmn.models import DefinitionKind, ProcessDefinition
from workflows_bpmn.validation import BPMN_NS, LANE_ROLES, parse_xml

#: The government service operations, in words (an operation added later is shown by its name).
OPERATIONS: dict[str, Message] = {
    "citizen_info.verify_identity": _("Citizen information: verify a name and ID number"),
    "citizen_info.query_person": _("Citizen information: query a person (birth date, address, household)"),
    "sms.send_sms": _("SMS platform: send an SMS"),
    "sms.query_delivery": _("SMS platform: query an SMS's delivery"),
    "egov.submit_case": _("E-gov extranet: report a case for approval"),
    "egov.query_case": _("E-gov extranet: query a reported case"),
    "data_exchange.publish_record": _("Data exchange: publish a record"),
    "data_exchange.query_records": _("Data exchange: query records"),
    "payment.create_payment": _("Payment platform: ask for a payment (its checkout page)"),
    "payment.query_payment": _("Payment platform: ask what became of a payment"),
    "payment.refund": _("Payment platform: refund a payment"),
}
#: Yes/no properties of a user task.
FLAGS: dict[str, Message] = {
    "pauses_clock": _("The time limit stops while it waits (补正)"),
    "return_target": _("A later step may return the case here (退回)"),
    "supervision": _("A supervision task of the street (督办)"),
}
#: The role each lane stands for: the lane's name begins with its code.
LANE_LABELS: dict[str, Message] = {
    "community_officer": ROLES["community_officer"],
    "street_reviewer": ROLES["street_reviewer"],
    "applicant": _("applicant"),
}
_PY_TYPES = {str: "str", dict: "dict", int: "int", float: "float", bool: "bool", list: "list"}


def _choices(table: dict[str, Message], locale: str) -> list[dict[str, str]]:
    return [{"code": code, "label": words.localize(locale)} for code, words in table.items()]


def palette(session: Session, actor: Actor, locale: str) -> dict[str, Any]:
    require_editor(actor)
    operations = []
    # Every system of the one registry: the built-in ones and those an integrator uploaded (their
    # operations named by the system's title and the SOAP operation they map to).
    specs = [(spec, system) for system in adapter_registry.REGISTRY.systems() for spec in system.operations]
    for spec, system in sorted(specs, key=lambda pair: pair[0].name):
        words = OPERATIONS.get(spec.name)
        label = words.localize(locale) if words else f"{system.title.localize(locale)} · {spec.soap_operation}"
        operations.append({
            "code": spec.name,
            "label": label,
            "params": [{"name": p.name, "type": next((_PY_TYPES[t] for t in p.types if t in _PY_TYPES), "str"),
                        "required": p.required} for p in spec.params],
        })  # fmt: skip
    deployed: dict[tuple[str, str], dict[str, Any]] = {}
    for definition in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.version)):
        entry = deployed.setdefault((definition.kind.value, definition.process_id),
                                    {"id": definition.process_id, "versions": []})  # fmt: skip
        entry["name"] = definition.name
        entry["versions"].append(definition.version)
    return {
        "lanes": [
            {
                "code": code,
                "label": LANE_LABELS[code].localize(locale) if code in LANE_LABELS else code,
                "zh": LANE_LABELS[code].localize("zh_CN") if code in LANE_LABELS else code,
            }
            for code in LANE_ROLES
        ],  # fmt: skip
        "decisions": _choices(DECISIONS, locale),
        "statuses": _choices(STATUSES, locale),
        "outcomes": _choices(OUTCOMES, locale),
        "flags": _choices(FLAGS, locale),
        "operations": operations,
        "processes": [e for (kind, _pid), e in sorted(deployed.items()) if kind == DefinitionKind.BPMN.value],
        "decision_tables": [e for (kind, _pid), e in sorted(deployed.items()) if kind == DefinitionKind.DMN.value],
    }


_NEW_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{1,60}")


def check_new_process(process_id: str | None, name: str | None, name_en: str | None) -> tuple[str, str, str]:
    """The id and names (Chinese, English) of a new process, as the modeler starts it."""
    process_id, name, name_en = (process_id or "").strip(), (name or "").strip(), (name_en or "").strip()
    if not _NEW_ID.fullmatch(process_id):
        raise InputError(_("a process id: letters, digits and _, 2 to 61 of them, not starting with a digit"),
                         field="process_id")  # fmt: skip
    if not name or len(name) > 100:
        raise InputError(_("give the process a name of at most 100 characters"), field="name")
    if not name_en or len(name_en) > 100:
        raise InputError(_("give the process a name in English of at most 100 characters"), field="name_en")
    return process_id, name, name_en


def new_process_xml(process_id: str, name: str, name_en: str) -> str:
    """The diagram a new process starts from: a start event in the community officer's lane."""
    return NEW_PROCESS.format(pid=process_id, name=escape(name), name_en=escape(name_en))


NEW_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="definitions_{pid}" targetNamespace="http://huiju.example.gov.cn/bpmn/{pid}">
  <bpmn:collaboration id="collaboration_{pid}">
    <bpmn:participant id="participant_{pid}" name="{name}" processRef="{pid}"/>
  </bpmn:collaboration>
  <bpmn:process id="{pid}" name="{name}" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="name_en" value="{name_en}"/>
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:laneSet id="lanes_{pid}">
      <bpmn:lane id="lane_community_officer_{pid}" name="community_officer">
        <bpmn:flowNodeRef>start_{pid}</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start_{pid}"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{pid}">
    <bpmndi:BPMNPlane id="plane_{pid}" bpmnElement="collaboration_{pid}">
      <bpmndi:BPMNShape id="shape_participant_{pid}" bpmnElement="participant_{pid}" isHorizontal="true">
        <dc:Bounds x="120" y="80" width="800" height="250"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="shape_lane_{pid}" bpmnElement="lane_community_officer_{pid}" isHorizontal="true">
        <dc:Bounds x="150" y="80" width="770" height="250"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="shape_start_{pid}" bpmnElement="start_{pid}">
        <dc:Bounds x="212" y="187" width="36" height="36"/>
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def modeler_sources(
    session: Session, actor: Actor, xml: str, base_process: str | None, base_version: int | None
) -> dict[str, str]:
    """The files the modeler's diagram is validated and deployed with: the files of the version it
    was opened from with the diagram replaced (its decision tables kept), or the diagram alone."""
    require_editor(actor)
    if not isinstance(xml, str) or not xml.strip():
        raise InputError(_("the modeler sent no diagram"), field="xml")
    if base_process and base_version:
        return edited_sources(session, actor, base_process, base_version, xml)
    root = parse_xml("diagram.bpmn", xml)
    ids = [p.get("id") for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("isExecutable") == "true"]
    stem = re.sub(r"[^\w.-]", "_", str(ids[0]))[:90] if ids and ids[0] else "process"
    return {f"{stem}.bpmn": xml}
