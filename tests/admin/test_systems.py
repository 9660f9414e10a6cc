"""A new SOAP system without writing Python: its WSDL uploaded, an operation mapped, and that operation
named by a BPMN service task that deploys, runs, and is delivered to the system like any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from integration_support import HOUSING_WSDL, housing_peer
from roster_support import NEW_1
from sqlalchemy import select

from adapters.custom import Parameter
from adapters.registry import REGISTRY, is_known
from exchange.delivery import deliver
from exchange.models import MessageStatus, OutboxMessage
from huiju.errors import ConflictError, DeployError, InputError, PermissionDenied
from huiju.models import AuditEntry
from huiju.runtime import Runtime
from huiju.services import integration, systems
from huiju.services.actors import load_actor
from workflows_bpmn.definitions import deploy
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.models import InstanceStatus, ProcessInstance

WSDL = HOUSING_WSDL.read_bytes()
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_housing" targetNamespace="urn:t">
  <bpmn:process id="housing_check" name="住房核查" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="query_housing" name="查询住房保障">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="OPERATION" resultVariable="housing">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="id_number" type="str" value="id_number"/>
            <spiffworkflow:parameter id="year" type="int" value="2026"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="query_housing"/>
    <bpmn:sequenceFlow id="f2" sourceRef="query_housing" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _actor(runtime: Runtime, username: str = "integrator"):  # type: ignore[no-untyped-def]
    with runtime.db.sessions() as session:
        return load_actor(session, username)


def _upload_and_map(runtime: Runtime) -> None:
    integrator = _actor(runtime)
    with runtime.db.transaction() as session:
        systems.upload_system(session, integrator, "housing", "住房保障系统", "housing security system", WSDL)
        systems.map_operation(session, integrator, "housing", "housing.query_housing", "QueryHousing")
        systems.map_operation(session, integrator, "housing", "housing.ping", "Ping", probe={})
    systems.refresh_registry()


@pytest.fixture(autouse=True)
def _registry_of_this_test(runtime: Runtime):  # type: ignore[no-untyped-def]
    yield
    REGISTRY.refresh(force=True)  # the next test's database has no uploaded systems


def test_an_uploaded_operation_deploys_runs_and_is_delivered(runtime: Runtime) -> None:
    bpmn = {"housing.bpmn": BPMN.replace("OPERATION", "housing.query_housing")}
    with runtime.db.transaction() as session, pytest.raises(DeployError, match="unknown service operation"):
        deploy(session, bpmn, host_functions(), deployed_by="admin")
    _upload_and_map(runtime)
    assert is_known("housing.query_housing") and REGISTRY.system("housing").title.localize("zh_CN") == "住房保障系统"
    spec = REGISTRY.operation("housing.query_housing")
    assert spec is not None and [(p.name, p.required) for p in spec.params] == [("id_number", True), ("year", False)]
    with runtime.db.transaction() as session:
        deploy(session, bpmn, host_functions(), deployed_by="admin")
        instance_id = runtime.engine.start(session, "housing_check", {"id_number": NEW_1}, {}, "admin").instance.id
    with housing_peer() as peer:
        with runtime.db.transaction() as session:
            integration.configure(session, _actor(runtime), "housing", {"endpoint": peer.url, "enabled": "true"},
                                  secure=False)  # fmt: skip
            message = session.scalars(select(OutboxMessage)).one()
            assert (message.system, message.operation, message.params) == (
                "housing",
                "housing.query_housing",
                {"id_number": NEW_1, "year": 2026},
            )
            message_id = message.message_id
        assert deliver(runtime.db, message_id, lease_seconds=30) is MessageStatus.DELIVERED
        assert peer.received[0]["operation"] == "QueryHousing"
        assert (peer.received[0]["idNumber"], peer.received[0]["year"]) == (NEW_1, "2026")
        assert peer.received[0]["header"]["service"] == "housing.QueryHousing"
        test = integration.test_connection(runtime.db, _actor(runtime), "housing", None)
        assert test.ok and test.operation == "housing.ping" and peer.received[-1]["operation"] == "Ping"
    with runtime.db.transaction() as session:
        runtime.engine.settle(session, message_id)
    with runtime.db.sessions() as session:
        delivered = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        assert delivered.reply == {"holds_public_housing": True, "area": "58.50"}
        assert session.get(ProcessInstance, instance_id).status is InstanceStatus.COMPLETED  # type: ignore[union-attr]
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == [
            "system.upload",
            "system.map_operation",
            "system.map_operation",
            "adapter.update",
            "adapter.test",
        ]


@pytest.mark.parametrize(
    ("wsdl", "message"),
    [
        (
            WSDL.replace(b'<soap:header message="tns:PingRequest" part="header" use="literal"/>', b""),
            "operation Ping does not carry the exchange header",
        ),
        (b'<!DOCTYPE x [<!ENTITY a "b">]>' + WSDL, "DOCTYPE declarations are not accepted"),
        (b"<html/>", "it is not a WSDL 1.1 document"),
        (b"<wsdl:definitions", "it is not well-formed XML"),
        (WSDL.replace(b"exchange_header.xsd", b"file:///etc/passwd"), "it cannot be read"),
    ],
)
def test_a_wsdl_that_cannot_be_used_is_refused_with_the_reason(runtime: Runtime, wsdl: bytes, message: str) -> None:
    with runtime.db.transaction() as session, pytest.raises(InputError, match=message):
        systems.upload_system(session, _actor(runtime), "housing", "住房保障系统", "", wsdl)


def test_mappings_are_checked_against_the_wsdl(runtime: Runtime) -> None:
    _upload_and_map(runtime)
    integrator = _actor(runtime)
    cases = [
        ("housing.x", "QueryHousing", [Parameter("year", "year", "int", False)], "element idNumber is required"),
        ("housing.x", "QueryHousing", [Parameter("id", "idNumber", "int", True)], "is of type str, not int"),
        ("housing.x", "QueryHousing", [Parameter("id", "nope", "str", True)], "has no request element 'nope'"),
        ("housing.x", "Fly", None, "the WSDL has no operation 'Fly'; it has: Ping, QueryHousing"),
        ("other.x", "Ping", None, "an operation of housing is named housing.<lowercase name>"),
    ]
    for name, soap_op, params, message in cases:
        with runtime.db.transaction() as session, pytest.raises(InputError, match=message):
            systems.map_operation(session, integrator, "housing", name, soap_op, params)
    with runtime.db.transaction() as session, pytest.raises(ConflictError, match="built-in system"):
        systems.upload_system(session, integrator, "sms", "短信", "", WSDL)
    with runtime.db.transaction() as session, pytest.raises(PermissionDenied):
        systems.upload_system(session, _actor(runtime, "admin"), "housing2", "住房", "", WSDL)
    broken = WSDL.replace(b'name="idNumber" type="xsd:string"', b'name="personId" type="xsd:string"')
    with runtime.db.transaction() as session, pytest.raises(InputError, match="no request element 'idNumber'"):
        systems.upload_system(session, integrator, "housing", "住房保障系统", "", broken)
    with runtime.db.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.target == "housing.ping")).one()
        assert json.loads(entry.after or "{}") == {"soap_operation": "Ping", "parameters": [], "probe": {}}


def test_the_file_is_the_one_shipped_for_the_guide() -> None:
    assert Path(HOUSING_WSDL).name == "housing.wsdl"
