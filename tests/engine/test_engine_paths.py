"""Every path of the subsidy model through the Engine and the case services, with canned replies."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from engine_support import APPLICANT, DEAD, OFFICER, REVIEWER, CaseDriver, young_resident_in
from sqlalchemy import select

from exchange.models import MessageStatus, OutboxMessage
from huiju.errors import ConflictError
from huiju.models import CaseStatus, Org, Resident
from huiju.runtime import Runtime
from workflows_bpmn.models import HumanTaskStatus, InstanceStatus

SUPPLEMENT = {"missing_materials": ["户口簿复印件", "银行卡复印件"]}


def org_ids(rt: Runtime) -> tuple[int, int]:
    with rt.db.sessions() as session:
        community = session.scalars(select(Org).where(Org.code == "110105001001")).one()
        street = session.scalars(select(Org).where(Org.code == "110105001")).one()
        return community.id, street.id


def settle_receipt(driver: CaseDriver) -> OutboxMessage:
    """Right after submission only the acknowledgement SMS (受理回执) is out: the case is still submitted.
    Settling it sends the identity check, and the case is then being verified."""
    assert driver.status is CaseStatus.SUBMITTED
    [receipt] = driver.pending()
    assert (receipt.operation, receipt.params["template"]) == ("sms.send_sms", "CASE_RECEIVED")
    assert driver.settle_one() == "sms.send_sms"
    assert driver.status is CaseStatus.VERIFYING  # only the citizen registry is being asked
    assert [m.operation for m in driver.pending()] == ["citizen_info.verify_identity"]
    return receipt


def to_intake(rt: Runtime) -> CaseDriver:
    driver = CaseDriver(rt).submit()
    settle_receipt(driver)
    assert driver.settle_all() == ["citizen_info.verify_identity", "citizen_info.query_person"]
    assert driver.status is CaseStatus.INTAKE
    return driver


def check_task(rt: Runtime, driver: CaseDriver, step: str, role: str, decisions: list[str]) -> str:
    task = driver.ready_task()
    community_id, street_id = org_ids(rt)
    assert (task.step, task.role, task.decisions) == (step, role, decisions)
    assert (task.community_id, task.street_id, task.case_id) == (community_id, street_id, driver.case_id)
    assert isinstance(task.due_at, datetime) and task.due_at.tzinfo is not None
    if step == "supplement":  # the resident's own limit: when the 30-day timer ends the step
        assert task.due_at == driver.instance().next_timer_due
        assert timedelta(days=29, hours=23) < task.due_at - task.created_at <= timedelta(days=30)
    else:
        assert task.due_at == datetime.fromisoformat(driver.instance().context["due_at"])
    if role == "resident":
        with rt.db.sessions() as session:
            applicant = session.scalars(select(Resident).where(Resident.id_number == "110105193801012340")).one()
        assert task.resident_id == applicant.id
    else:
        assert task.resident_id is None
    return task.id


def approve(rt: Runtime, driver: CaseDriver) -> None:
    check_task(rt, driver, "intake", "community_officer", ["accept", "refuse", "supplement"])
    driver.complete(OFFICER, "accept")
    assert driver.settle_all() == ["sms.send_sms"]  # the acceptance notice (受理通知书), by SMS
    assert driver.status is CaseStatus.STREET_REVIEW
    check_task(rt, driver, "street_review", "street_reviewer", ["approve", "deny", "return"])
    driver.complete(REVIEWER, "approve")
    assert driver.status is CaseStatus.PROCESSING
    assert driver.settle_all() == ["egov.submit_case", "sms.send_sms", "data_exchange.publish_record"]


def test_denied_by_the_extranet(rt: Runtime) -> None:
    driver = to_intake(rt)
    driver.egov_decision = ("denied", "收入核查不符")
    driver.complete(OFFICER, "accept")
    assert driver.settle_all() == ["sms.send_sms"]  # the acceptance notice (受理通知书), by SMS
    driver.complete(REVIEWER, "approve")
    assert driver.settle_all() == ["egov.submit_case", "sms.send_sms"]
    concluded(driver, "denied")
    assert "message_received" in driver.timeline()


def test_waiting_message_index_follows_the_instance(rt: Runtime) -> None:
    from sqlalchemy import select

    from workflows_bpmn.models import WaitingMessage

    driver = to_intake(rt)
    driver.complete(OFFICER, "accept")
    assert driver.settle_all() == ["sms.send_sms"]  # the acceptance notice (受理通知书), by SMS
    driver.complete(REVIEWER, "approve")
    driver.settle_one()  # egov.submit_case answered, and the extranet calls back at once
    with rt.db.sessions() as session:
        assert session.scalars(select(WaitingMessage)).all() == []  # consumed by the decision


def concluded(driver: CaseDriver, outcome: str) -> None:
    case = driver.case()
    assert (case.status, case.outcome) == (CaseStatus.CONCLUDED, outcome)
    assert case.concluded_at is not None
    instance = driver.instance()
    assert (instance.status, instance.outcome, instance.next_timer_due) == (InstanceStatus.COMPLETED, outcome, None)
    assert driver.tasks(HumanTaskStatus.READY) == []
    assert driver.pending() == []
    assert driver.timeline()[-1] == "process_completed"


def test_approved(rt: Runtime) -> None:
    driver = to_intake(rt)
    approve(rt, driver)
    concluded(driver, "approved")
    assert driver.timeline() == [
        "submitted", "process_started",
        "service_requested", "service_replied",
        "service_requested", "service_replied", "service_requested", "service_replied", "task_ready",
        "task_completed", "task_ready", "document_issued",  # 受理通知书
        "service_requested",  # its SMS, with the link
        "task_completed", "service_requested",
        "service_replied", "message_received", "service_requested", "document_issued",  # 准予决定书
        "service_replied", "service_requested",
        "service_replied", "process_completed",
    ]  # fmt: skip
    done = driver.tasks(HumanTaskStatus.COMPLETED)
    assert [(t.step, t.completed_by, t.decision) for t in done] == [
        ("intake", OFFICER, "accept"), ("street_review", REVIEWER, "approve"),
    ]  # fmt: skip
    # The first message of the case is the receipt SMS, to the applicant's phone, naming the case.
    with rt.db.sessions() as session:
        applicant = session.scalars(select(Resident).where(Resident.id_number == "110105193801012340")).one()
        sent = session.scalars(
            select(OutboxMessage).where(OutboxMessage.case_number == driver.number).order_by(OutboxMessage.id)
        ).all()
    assert [(m.operation, m.params.get("template")) for m in sent] == [
        ("sms.send_sms", "CASE_RECEIVED"), ("citizen_info.verify_identity", None),
        ("citizen_info.query_person", None), ("sms.send_sms", "CASE_ACCEPTED"), ("egov.submit_case", None),
        ("sms.send_sms", "SUBSIDY_APPROVED"), ("data_exchange.publish_record", None),
    ]  # fmt: skip
    # The acceptance notice's SMS carries its link to the portal; no step of the process waits for it.
    notice = sent[3]
    assert notice.params["params"]["link"].endswith(f"/portal/cases/{driver.number}/documents/1")
    assert notice.process_instance_id is None and notice.status is MessageStatus.DELIVERED
    receipt = sent[0]
    assert applicant.phone
    assert receipt.params == {
        "phone": applicant.phone, "template": "CASE_RECEIVED",
        "params": {"case_number": driver.number, "item": "居家养老服务补贴"},
    }  # fmt: skip
    assert receipt.status is MessageStatus.DELIVERED and receipt.settled_at is not None


def test_supplement_then_approved(rt: Runtime) -> None:
    driver = to_intake(rt)
    driver.complete(OFFICER, "supplement", SUPPLEMENT)
    assert driver.status is CaseStatus.PROCESSING
    assert driver.settle_all() == ["sms.send_sms"]
    assert driver.status is CaseStatus.AWAITING_SUPPLEMENT
    check_task(rt, driver, "supplement", "resident", ["submit"])
    supplement_due = driver.instance().next_timer_due
    assert supplement_due is not None
    driver.complete(APPLICANT, "submit", {"materials": ["hukou.pdf", "bank_card.pdf"]})
    assert driver.status is CaseStatus.INTAKE
    reminder = driver.instance().next_timer_due  # the supplement timer is gone; intake's reminder waits
    assert reminder is not None and reminder < supplement_due
    approve(rt, driver)
    concluded(driver, "approved")
    steps = [(t.step, t.decision) for t in driver.tasks(HumanTaskStatus.COMPLETED)]
    assert steps == [
        ("intake", "supplement"), ("supplement", "submit"), ("intake", "accept"), ("street_review", "approve"),
    ]  # fmt: skip


def test_refused(rt: Runtime) -> None:
    driver = to_intake(rt)
    driver.complete(OFFICER, "refuse", {"reason": "户籍不在本社区"})
    [sms] = driver.pending()
    assert sms.params["template"] == "CASE_REFUSED" and sms.params["params"]["reason"] == "户籍不在本社区"
    driver.settle_all()
    concluded(driver, "refused")


def test_denied(rt: Runtime) -> None:
    driver = to_intake(rt)
    driver.complete(OFFICER, "accept")
    assert driver.settle_all() == ["sms.send_sms"]  # the acceptance notice (受理通知书), by SMS
    driver.complete(REVIEWER, "deny", {"reason": "家庭经济状况核对不符"})
    assert driver.settle_all() == ["sms.send_sms"]
    concluded(driver, "denied")


def test_ineligible(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit(young_resident_in("110105001001"), username=OFFICER)
    settle_receipt(driver)
    assert driver.settle_all() == ["citizen_info.verify_identity", "citizen_info.query_person", "sms.send_sms"]
    concluded(driver, "ineligible")
    assert driver.tasks() == []


def test_identity_mismatch(rt: Runtime) -> None:
    driver = CaseDriver(rt, identity_match=False).submit()
    settle_receipt(driver)
    assert driver.settle_one() == "citizen_info.verify_identity"
    [sms] = driver.pending()
    assert sms.params["template"] == "IDENTITY_MISMATCH"
    driver.settle_all()
    concluded(driver, "identity_mismatch")


def test_incident_close(rt: Runtime) -> None:
    driver = CaseDriver(rt, replies={"citizen_info.verify_identity": [DEAD]}).submit()
    settle_receipt(driver)
    assert driver.settle_one() == "citizen_info.verify_identity"
    assert driver.status is CaseStatus.INCIDENT
    assert driver.instance().status is InstanceStatus.RUNNING  # caught by the boundary event
    assert "service_failed" in driver.timeline()
    check_task(rt, driver, "identity_incident", "community_officer", ["retry", "close"])
    driver.complete(OFFICER, "close", {"reason": "系统长时间不可用"})
    concluded(driver, "closed")


def test_incident_retry(rt: Runtime) -> None:
    driver = CaseDriver(rt, replies={"citizen_info.verify_identity": [DEAD]}).submit()
    settle_receipt(driver)
    assert driver.settle_one() == "citizen_info.verify_identity"
    driver.complete(OFFICER, "retry")
    assert driver.status is CaseStatus.VERIFYING
    assert [m.operation for m in driver.pending()] == ["citizen_info.verify_identity"]
    driver.settle_all()
    assert driver.status is CaseStatus.INTAKE
    approve(rt, driver)
    concluded(driver, "approved")


def test_uncaught_failure_is_an_incident_until_retried(rt: Runtime) -> None:
    driver = to_intake(rt)
    driver.replies["egov.submit_case"] = [DEAD]
    driver.complete(OFFICER, "accept")
    assert driver.settle_all() == ["sms.send_sms"]  # the acceptance notice (受理通知书), by SMS
    driver.complete(REVIEWER, "approve")
    assert driver.settle_one() == "egov.submit_case"
    assert driver.instance().status is InstanceStatus.INCIDENT
    assert driver.status is CaseStatus.INCIDENT
    assert driver.timeline()[-1] == "incident"
    assert driver.pending() == []
    with rt.db.sessions() as session:
        [dead] = session.scalars(select(OutboxMessage).where(OutboxMessage.status == MessageStatus.DEAD)).all()
        assert dead.settled_at is not None

    ids = driver.retry_incident()
    assert ids == [dead.message_id]
    assert driver.instance().status is InstanceStatus.RUNNING
    assert driver.status is CaseStatus.PROCESSING
    assert [(m.message_id, m.attempts, m.settled_at) for m in driver.pending()] == [(dead.message_id, 0, None)]
    assert driver.timeline()[-1] == "incident_retried"
    with pytest.raises(ConflictError, match="not held up by a system fault"):
        driver.retry_incident()

    assert driver.settle_all() == ["egov.submit_case", "sms.send_sms", "data_exchange.publish_record"]
    concluded(driver, "approved")


def test_approved_end_to_end_over_soap(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()
    assert driver.status is CaseStatus.SUBMITTED
    assert driver.deliver_all() == ["sms.send_sms", "citizen_info.verify_identity", "citizen_info.query_person"]
    assert driver.status is CaseStatus.INTAKE
    driver.complete(OFFICER, "accept")
    assert driver.deliver_all() == ["sms.send_sms"]  # the acceptance notice (受理通知书), by SMS
    driver.complete(REVIEWER, "approve")
    assert driver.deliver_all() == ["egov.submit_case", "sms.send_sms", "data_exchange.publish_record"]
    concluded(driver, "approved")
    with rt.db.sessions() as session:
        receipts = session.scalars(
            select(OutboxMessage.reply).where(OutboxMessage.operation == "egov.submit_case")
        ).all()
    assert receipts[0] is not None and receipts[0]["receipt_number"]
