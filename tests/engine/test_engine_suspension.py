"""A subsidy case suspended by an administrator (中止), through the services and the real sandbox:
nothing is sent while it is held, a decision that arrives is taken in but moves nothing, and it
goes on where it stood once resumed."""

from __future__ import annotations

from engine_support import OFFICER, REVIEWER, CaseDriver
from sqlalchemy import select

from exchange.models import MessageStatus, OutboxMessage
from huiju.app.callbacks import deliver_decision
from huiju.models import CaseStatus
from huiju.runtime import Runtime
from huiju.services import running
from huiju.services.actors import load_actor
from workflows_bpmn.models import InstanceStatus
from workflows_bpmn.tasks import process_message


def suspend(driver: CaseDriver, reason: str = "核查") -> None:
    with driver.rt.db.transaction() as session:
        running.suspend_case(session, driver.rt.engine, load_actor(session, "admin"), driver.number, reason)


def resume(driver: CaseDriver, reason: str = "继续") -> None:
    with driver.rt.db.transaction() as session:
        running.resume_case(session, driver.rt.engine, load_actor(session, "admin"), driver.number, reason)


def test_nothing_goes_out_while_suspended_and_everything_does_once_resumed(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()
    [receipt] = driver.pending()  # the acknowledgement SMS, not sent yet
    suspend(driver)
    assert driver.status is CaseStatus.SUSPENDED and driver.pending() == []
    assert process_message(rt, receipt.message_id) is None  # a delivery job finds nothing to send
    with rt.db.sessions() as session:
        held = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == receipt.message_id)).one()
        assert (held.status, held.attempts) == (MessageStatus.HELD, 0)
    resume(driver)
    assert driver.status is CaseStatus.SUBMITTED and [m.message_id for m in driver.pending()] == [receipt.message_id]
    assert driver.deliver_all() == ["sms.send_sms", "citizen_info.verify_identity", "citizen_info.query_person"]
    assert driver.status is CaseStatus.INTAKE
    assert driver.timeline().count("suspended") == 1 and driver.timeline().count("resumed") == 1


def test_a_decision_arriving_while_suspended_is_taken_in_and_moves_the_case_once_resumed(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()
    driver.settle_all()
    driver.complete(OFFICER, "accept")
    driver.settle_all()  # the acceptance notice's SMS
    driver.complete(REVIEWER, "approve")
    [report] = driver.pending()
    assert report.operation == "egov.submit_case"
    with rt.db.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == report.message_id)).one()
        row.status, row.attempts, row.reply = MessageStatus.DELIVERED, 1, {"receipt_number": "ZW0000000042"}
        rt.engine.settle(session, report.message_id)
    suspend(driver, "外网结果待核实")
    with rt.db.transaction() as session:  # the extranet's decision comes back meanwhile
        deliver_decision(session, rt.engine, driver.number, "ZW0000000042")
    assert driver.status is CaseStatus.SUSPENDED and driver.pending() == []
    assert driver.instance().status is InstanceStatus.SUSPENDED
    resume(driver, "核实无误")
    assert [m.operation for m in driver.pending()] == ["sms.send_sms"]  # the applicant is told now
    driver.settle_all()
    assert (driver.status, driver.case().outcome) == (CaseStatus.CONCLUDED, "approved")
