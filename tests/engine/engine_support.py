"""Driving subsidy cases through Huiju's engine in tests, with canned replies or the real sandbox.

Without Celery, service calls are moved in-process: :meth:`CaseDriver.settle_all` marks each
pending outbox message delivered (with a reply shaped like the adapter's) or dead and lets the
engine settle it; :meth:`CaseDriver.deliver_all` sends them over SOAP with ``process_message``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.sandbox.people import ZHANG_XIUYING, find, seeded_people
from exchange.models import MessageStatus, OutboxMessage
from huiju.app.callbacks import deliver_decision
from huiju.models import Case, CaseEvent, CaseStatus
from huiju.runtime import Runtime
from huiju.services import cases as case_service
from huiju.services import tasks as task_service
from huiju.services.actors import load_actor
from workflows_bpmn.models import HumanTask, HumanTaskStatus, ProcessInstance
from workflows_bpmn.runner import StepResult
from workflows_bpmn.tasks import process_message

ITEM = "elderly-care-subsidy"
FORM: dict[str, Any] = {"income_band": "subsistence", "disability": "none", "living_alone": True}
OFFICER = "officer-chaoyang-01"  # 望京西园社区, where 张秀英 lives
OTHER_OFFICER = "officer-chaoyang-02"  # 花家地社区
REVIEWER = "reviewer-wangjing-01"  # 望京街道
APPLICANT = "resident-zhang"
DEAD = "dead"  # a canned "reply" that makes the message dead instead of delivered

Reply = dict[str, Any] | str
Replier = Callable[[str, dict[str, Any]], Reply]


def young_resident_in(community_code: str) -> str:
    """A seeded resident of the community born after 1966 (under 60 in 2026: ineligible)."""
    from huiju.app.seed import community_for

    for person in seeded_people():
        if person.birth_date.year > 1966 and community_for(person.id_number) == community_code:
            return person.id_number
    raise LookupError(f"no young resident in {community_code}")


def canned_reply(operation: str, params: dict[str, Any], *, identity_match: bool = True) -> dict[str, Any]:
    """What the adapter would hand back for this call (shapes as in ``adapters.registry``)."""
    if operation == "citizen_info.verify_identity":
        if identity_match:
            return {"match": True, "reason": None}
        return {"match": False, "reason": "姓名与公民身份号码不一致"}
    if operation == "citizen_info.query_person":
        person = find(str(params["id_number"]))
        assert person is not None
        return {
            "id_number": person.id_number,
            "name": person.name,
            "gender": person.gender,
            "birth_date": person.birth_date.isoformat(),
            "registered_address": person.registered_address,
            "household": [],
        }
    if operation == "sms.send_sms":
        return {"sms_id": "SMS00000001", "accepted": True}
    if operation == "egov.submit_case":
        return {"receipt_number": "ZW0000000001", "received_at": "2026-03-02T10:00:00+08:00"}
    if operation == "data_exchange.publish_record":
        return {"record_id": "REC-elderly_care_subsidy-1"}
    raise AssertionError(f"no canned reply for {operation}")


@dataclass
class CaseDriver:
    """One case of the subsidy process, moved step by step through the real services."""

    rt: Runtime
    number: str = ""
    case_id: int = 0
    instance_id: int = 0
    replies: dict[str, list[Reply]] = field(default_factory=dict)  # per operation, used first-in first-out
    identity_match: bool = True
    egov_decision: tuple[str, str] = ("approved", "")  # what the extranet calls back with
    item: str = ITEM
    form: dict[str, Any] = field(default_factory=lambda: dict(FORM))

    # -- the ways in ---------------------------------------------------------------------------

    def submit(self, id_number: str = ZHANG_XIUYING, username: str = APPLICANT) -> CaseDriver:
        with self.rt.db.transaction() as session:
            actor = load_actor(session, username)
            case = case_service.submit_case(session, self.rt.engine, actor, self.item, id_number, dict(self.form))
            self.number, self.case_id = case.number, case.id
            assert case.process_instance_id is not None
            self.instance_id = case.process_instance_id
        return self

    def complete(self, username: str, decision: str, data: dict[str, Any] | None = None) -> StepResult:
        task_id = self.ready_task().id
        return self.complete_id(task_id, username, decision, data)

    def complete_id(self, task_id: str, username: str, decision: str, data: dict[str, Any] | None = None) -> StepResult:
        with self.rt.db.transaction() as session:
            actor = load_actor(session, username)
            return task_service.complete_task(session, self.rt.engine, actor, task_id, decision, data or {})

    def retry_incident(self, username: str = OFFICER) -> list[str]:
        with self.rt.db.transaction() as session:
            actor = load_actor(session, username)
            return case_service.retry_incident(session, self.rt.engine, actor, self.number)

    # -- service calls, in-process ----------------------------------------------------------------

    def pending(self) -> list[OutboxMessage]:
        with self.rt.db.sessions() as session:
            return list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.case_number == self.number)
                    .order_by(OutboxMessage.id)
                )
            )

    def settle_one(self) -> str:
        """Answer the oldest pending message of the case (canned) and settle it; its operation."""
        message = self.pending()[0]
        queued = self.replies.get(message.operation)
        reply: Reply = (
            queued.pop(0)
            if queued
            else canned_reply(message.operation, message.params, identity_match=self.identity_match)
        )
        with self.rt.db.transaction() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message.message_id)).one()
            if reply == DEAD:
                row.status = MessageStatus.DEAD
                row.attempts = 5
                row.last_error = f"{message.operation}: service busy, try again later (canned)"
                row.last_error_transient = True
            else:
                assert isinstance(reply, dict)
                row.status = MessageStatus.DELIVERED
                row.attempts = 1
                row.reply = reply
            self.rt.engine.settle(session, message.message_id)
        if message.operation == "egov.submit_case" and isinstance(reply, dict):
            self.extranet_decides(str(reply["receipt_number"]))
        return message.operation

    def extranet_decides(self, receipt_number: str) -> None:
        """The extranet's decision callback, delivered in-process (``egov_decision``, default approved)."""
        decision, reason = self.egov_decision
        with self.rt.db.transaction() as session:
            deliver_decision(session, self.rt.engine, self.number, receipt_number, decision, reason)

    def settle_all(self) -> list[str]:
        done = []
        while self.pending():
            done.append(self.settle_one())
        return done

    def deliver_all(self) -> list[str]:
        """Send every pending message over SOAP to the sandbox, settling each (no Celery)."""
        done = []
        while pending := self.pending():
            for message in pending:
                status = process_message(self.rt, message.message_id)
                assert status is MessageStatus.DELIVERED, (message.operation, status)
                done.append(message.operation)
                if message.operation == "egov.submit_case":
                    with self.rt.db.sessions() as session:
                        row = session.scalars(
                            select(OutboxMessage).where(OutboxMessage.message_id == message.message_id)
                        ).one()
                        receipt = str((row.reply or {})["receipt_number"])
                    self.extranet_decides(receipt)
        return done

    # -- what happened --------------------------------------------------------------------------

    def case(self) -> Case:
        with self.rt.db.sessions() as session:
            case = session.get(Case, self.case_id)
            assert case is not None
            return case

    @property
    def status(self) -> CaseStatus:
        return self.case().status

    def instance(self) -> ProcessInstance:
        with self.rt.db.sessions() as session:
            instance = session.get(ProcessInstance, self.instance_id)
            assert instance is not None
            return instance

    def tasks(self, status: HumanTaskStatus | None = None) -> list[HumanTask]:
        with self.rt.db.sessions() as session:
            stmt = select(HumanTask).where(HumanTask.instance_id == self.instance_id)
            if status is not None:
                stmt = stmt.where(HumanTask.status == status)
            return list(session.scalars(stmt.order_by(HumanTask.created_at, HumanTask.step)))

    def ready_task(self) -> HumanTask:
        ready = self.tasks(HumanTaskStatus.READY)
        assert len(ready) == 1, [t.step for t in ready]
        return ready[0]

    def timeline(self) -> list[str]:
        with self.rt.db.sessions() as session:
            return list(
                session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == self.case_id).order_by(CaseEvent.id))
            )


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a failed step must leave as it was."""
    instances = [
        (i.id, i.status, i.outcome, i.lock_version, i.serialized, i.next_timer_due)
        for i in session.scalars(select(ProcessInstance).order_by(ProcessInstance.id))
    ]
    humans = [
        (h.id, h.status, h.completed_by, h.decision) for h in session.scalars(select(HumanTask).order_by(HumanTask.id))
    ]
    cases = [(c.id, c.status, c.outcome) for c in session.scalars(select(Case).order_by(Case.id))]
    return {
        "instances": instances,
        "human_tasks": humans,
        "cases": cases,
        "events": session.scalar(select(func.count()).select_from(CaseEvent)),
        "outbox": [
            (m.message_id, m.status, m.settled_at)
            for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ],
    }
