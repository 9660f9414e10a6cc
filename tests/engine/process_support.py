"""Small processes built as strings, deployed into a fresh SQLite database per test, and a harness
that runs them through the engine without Celery (messages claimed, recorded and settled in-process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engine_support import snapshot
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.config import ensure_defaults
from exchange.models import MessageStatus, OutboxMessage
from huiju.app.bootstrap import import_models
from huiju.db import Database
from workflows_bpmn.definitions import SpecCache, deploy
from workflows_bpmn.expressions import host_functions
from workflows_bpmn.models import ProcessInstance
from workflows_bpmn.runner import Engine, StepResult, TimelineEntry
from workflows_bpmn.tasks import SweepReport, sweep

import_models()

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
FUNCTIONS = host_functions()

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="urn:review">
"""
TAIL = "</bpmn:definitions>"
ERROR = '<bpmn:error id="err" errorCode="service_failed"/>'


def process(pid: str, body: str, *, before: str = "") -> dict[str, str]:
    return {f"{pid}.bpmn": f'{HEAD}{before}<bpmn:process id="{pid}" isExecutable="true">{body}</bpmn:process>{TAIL}'}


def lane(*refs: str, name: str = "community_officer") -> str:
    nodes = "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
    return f'<bpmn:laneSet id="ls"><bpmn:lane id="l1" name="{name}">{nodes}</bpmn:lane></bpmn:laneSet>'


def flow(fid: str, source: str, target: str, condition: str = "") -> str:
    inner = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">{inner}</bpmn:sequenceFlow>'


def timer(tid: str, definition: str) -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{tid}"><bpmn:timerEventDefinition>{definition}'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )


def service(tid: str, result: str = "r") -> str:
    return (
        f'<bpmn:serviceTask id="{tid}"><bpmn:extensionElements>'
        f'<spiffworkflow:serviceTaskOperator id="citizen_info.verify_identity" resultVariable="{result}">'
        "<spiffworkflow:parameters>"
        '<spiffworkflow:parameter id="id_number" type="str" value="idn"/>'
        '<spiffworkflow:parameter id="name" type="str" value=\'"张秀英"\'/>'
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>"
    )


def timer_process(pid: str, definition: str, after: str = "") -> dict[str, str]:
    """start -> timer -> (after, whose first node is 'g') -> end 'e'."""
    return process(
        pid,
        '<bpmn:startEvent id="s"/>' + flow("f1", "s", "t") + timer("t", definition)
        + flow("f2", "t", "g" if after else "e") + after + '<bpmn:endEvent id="e"/>',
    )  # fmt: skip


def service_process(pid: str, *, boundary: bool) -> dict[str, str]:
    """start -> service 'svc' -> end 'e'; with ``boundary``, an error boundary leads to end 'e2'."""
    catch = (
        '<bpmn:boundaryEvent id="catch" attachedToRef="svc"><bpmn:errorEventDefinition errorRef="err"/>'
        "</bpmn:boundaryEvent>" + flow("f3", "catch", "e2") + '<bpmn:endEvent id="e2"/>'
    )
    body = (
        '<bpmn:startEvent id="s"/>' + flow("f1", "s", "svc") + service("svc") + flow("f2", "svc", "e")
        + '<bpmn:endEvent id="e"/>' + (catch if boundary else "")
    )  # fmt: skip
    return process(pid, body, before=ERROR)


@dataclass
class Harness:
    """A database, an engine that records every timeline entry, and what ``sweep`` needs of a runtime."""

    db: Database
    engine: Engine
    seen: list[tuple[int, TimelineEntry]] = field(default_factory=list)
    dispatched: list[str] = field(default_factory=list)
    lease_seconds: float = 30.0

    def listen(self, session: Session, result: StepResult) -> None:
        self.seen.extend((result.instance.id, entry) for entry in result.timeline)

    def start(self, pid: str, data: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> StepResult:
        with self.db.transaction() as session:
            return self.engine.start(session, pid, data or {}, context or {}, "tester")

    def kinds(self, instance_id: int) -> list[str]:
        return [entry.kind for iid, entry in self.seen if iid == instance_id]

    def instance(self, instance_id: int) -> ProcessInstance:
        with self.db.sessions() as session:
            instance = session.get(ProcessInstance, instance_id)
            assert instance is not None
            return instance

    def message(self, message_id: str) -> OutboxMessage:
        with self.db.sessions() as session:
            return session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()

    def set_message(self, message_id: str, **values: Any) -> None:
        with self.db.transaction() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
            for name, value in values.items():
                setattr(row, name, value)

    def pending(self) -> list[str]:
        with self.db.sessions() as session:
            return list(
                session.scalars(
                    select(OutboxMessage.message_id)
                    .where(OutboxMessage.status == MessageStatus.PENDING)
                    .order_by(OutboxMessage.id)
                )
            )

    def snapshot(self) -> dict[str, Any]:
        with self.db.sessions() as session:
            return snapshot(session)

    def sweep(self) -> SweepReport:
        return sweep(self, self.dispatched.extend)


Maker = Callable[..., Harness]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Maker]:
    """Builds harnesses: ``make(bundle, ...)`` deploys the bundles into a database of its own."""
    made: list[Database] = []

    def build(*bundles: dict[str, str], adapters: bool = False) -> Harness:
        db = Database(f"sqlite:///{tmp_path}/review-{len(made)}.db")
        made.append(db)
        db.create_all()
        cache = SpecCache(FUNCTIONS)
        harness = Harness(db, Engine(cache=cache, functions=lambda _session: host_functions()))
        harness.engine.listeners.append(harness.listen)
        for bundle in bundles:
            with db.transaction() as session:
                deploy(session, bundle, FUNCTIONS, deployed_by="tester", cache=cache)
        if adapters:
            with db.transaction() as session:
                ensure_defaults(session, "http://127.0.0.1:9")
        return harness

    yield build
    for db in made:
        db.dispose()
