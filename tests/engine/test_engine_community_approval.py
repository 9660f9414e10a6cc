"""The generic community process: intake with 补正 and the clock, review with 退回 and 加签, the street
level, and the timers that remind before the committed limit and escalate to the street after it."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from engine_support import OFFICER, OTHER_OFFICER, REVIEWER, CaseDriver
from freezegun import freeze_time
from sqlalchemy import select

from exchange.models import MessageStatus, OutboxMessage
from huiju.app.seed import DEMO_APPLICANT
from huiju.calendar import CHINA, WorkingCalendar
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.models import Case, CaseStatus, Resident, User
from huiju.runtime import Runtime
from huiju.services import applications, worklist
from huiju.services import tasks as task_service
from huiju.services.actors import load_actor
from huiju.services.clock import china_day
from workflows_bpmn.models import HumanTaskStatus

CERTIFICATE = {"purpose": "school", "address": "望京西园三区 112 号楼"}
ASSISTANCE = {"cause": "illness", "amount_requested": 3000, "description": "家中老人突发重病住院，医疗费用无力承担"}
SECOND_OFFICER = "officer-chaoyang-01b"


def received(driver: CaseDriver) -> CaseDriver:
    """A submitted case once its acknowledgement SMS (受理回执) is out: waiting at intake."""
    assert driver.status is CaseStatus.SUBMITTED
    assert driver.settle_all() == ["sms.send_sms"]
    return driver


def certificate(rt: Runtime) -> CaseDriver:
    return received(CaseDriver(rt, item="residence-certificate", form=dict(CERTIFICATE)).submit())


def assistance(rt: Runtime) -> CaseDriver:
    return received(CaseDriver(rt, item="temporary-assistance", form=dict(ASSISTANCE)).submit())


def add_second_officer(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        first = session.scalars(select(User).where(User.username == OFFICER)).one()
        user = User(username=SECOND_OFFICER, display_name="望京西园社区专干 孙丽", role=first.role, org_id=first.org_id)
        user.set_password("huiju-demo")
        session.add(user)


def sms_templates(rt: Runtime, driver: CaseDriver) -> list[str]:
    """Every SMS of the case, in order: the process's own and the notices of its documents."""
    with rt.db.sessions() as session:
        return [
            m.params["template"]
            for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.case_number == driver.number).order_by(OutboxMessage.id)
            )
            if m.operation == "sms.send_sms"
        ]


def test_community_item_accepted_and_approved_by_the_community(rt: Runtime) -> None:
    driver = certificate(rt)
    assert driver.status is CaseStatus.INTAKE
    case = driver.case()
    calendar = WorkingCalendar()
    assert case.committed_due == calendar.add_working_days(china_day(case.submitted_at), 3)
    assert case.statutory_due == calendar.add_working_days(china_day(case.submitted_at), 10)
    assert driver.ready_task().due_at is not None
    driver.complete(OFFICER, "accept")
    assert driver.status is CaseStatus.REVIEW
    driver.complete(OFFICER, "approve")
    driver.settle_all()
    assert driver.status is CaseStatus.CONCLUDED
    assert driver.case().outcome == "approved"
    # The receipt (受理回执), the acceptance notice's link (受理通知书), the decision with its link.
    assert sms_templates(rt, driver) == ["CASE_RECEIVED", "CASE_ACCEPTED", "CASE_APPROVED"]


def test_street_level_item_goes_to_the_street_reviewer(rt: Runtime) -> None:
    driver = assistance(rt)
    driver.complete(OFFICER, "accept")
    driver.complete(OFFICER, "approve")
    assert driver.status is CaseStatus.STREET_REVIEW
    assert driver.ready_task().role == "street_reviewer"
    driver.complete(REVIEWER, "deny", {"reason": "家庭收入超过救助标准"})
    driver.settle_all()
    assert driver.case().outcome == "denied"


def test_the_clock_stops_during_the_supplement_wait_and_moves_the_due_dates_on(rt: Runtime) -> None:
    driver = certificate(rt)
    before = driver.case()
    driver.complete(OFFICER, "supplement", {"missing_materials": ["tenancy"]})
    driver.settle_all()
    assert driver.status is CaseStatus.AWAITING_SUPPLEMENT
    assert driver.case().clock_paused_since is not None
    # The resident answers 12 calendar days later: every working day in between is added back.
    later = utcnow() + timedelta(days=12)
    calendar = WorkingCalendar()
    with freeze_time(later):
        # Meanwhile every screen shows the clock stopped, the due date as it would be if it ran again now.
        with rt.db.sessions() as session:
            waiting = session.get(Case, driver.case_id)
            assert waiting is not None
            committed, statutory = worklist.time_left_of(session, waiting)
            waited = calendar.working_days_between(china_day(before.submitted_at), china_day(later))
            assert committed.paused and statutory.paused and committed.urgency == "paused"
            assert committed.due == calendar.add_working_days(china_day(before.submitted_at), 3 + waited)
            assert committed.working_days == 3  # nothing of the three days used while waiting
            # The resident's inbox (its rows read without the ORM) says the same of the same case.
            (row,) = worklist.inbox_rows(session, load_actor(session, "resident-zhang"))
            assert row.case is not None and row.case.number == waiting.number
            assert (row.committed, row.statutory) == (committed, statutory)
        driver.complete("resident-zhang", "submit", {"note": "租赁合同已上传"})
    after = driver.case()
    paused = calendar.working_days_between(china_day(before.submitted_at), china_day(later))
    assert paused > 0
    assert after.paused_days == paused
    assert after.clock_paused_since is None
    assert after.committed_due == calendar.add_working_days(china_day(before.submitted_at), 3 + paused)
    intake = driver.ready_task()
    assert intake.step == "intake"
    assert intake.due_at is not None and intake.due_at.astimezone(CHINA).date() == after.committed_due
    assert driver.timeline().count("clock_paused") == 1
    assert driver.timeline().count("clock_resumed") == 1


def test_return_sends_the_case_back_to_a_step_it_passed(rt: Runtime) -> None:
    driver = assistance(rt)
    driver.complete(OFFICER, "accept")
    driver.complete(OFFICER, "approve")
    street = driver.ready_task()
    with rt.db.sessions() as session:
        targets = task_service.return_targets(session, rt.engine, load_actor(session, REVIEWER), street.id)
    assert targets == [("intake", "社区受理"), ("review", "社区审核")]
    with pytest.raises(InputError, match="comment"):
        driver.complete(REVIEWER, "return", {"to_step": "review"})
    with pytest.raises(InputError, match="supplement"):
        driver.complete(REVIEWER, "return", {"to_step": "supplement", "comment": "x"})
    driver.complete(REVIEWER, "return", {"to_step": "review", "comment": "请补充家庭收入核实情况"})
    review = driver.ready_task()
    assert (review.step, review.role) == ("review", "community_officer")
    assert driver.status is CaseStatus.REVIEW
    assert "returned" in driver.timeline()
    # Back again through review: the street sees it a second time and approves.
    driver.complete(OFFICER, "approve")
    driver.complete(REVIEWER, "approve")
    driver.settle_all()
    assert driver.case().outcome == "approved"


def test_co_review_waits_for_the_named_officer(rt: Runtime) -> None:
    add_second_officer(rt)
    driver = certificate(rt)
    driver.complete(OFFICER, "accept")
    with pytest.raises(InputError, match="co-review"):
        driver.complete(OFFICER, "co_review", {"co_reviewer": OTHER_OFFICER})  # another community
    with pytest.raises(InputError, match="someone else"):
        driver.complete(OFFICER, "co_review", {"co_reviewer": OFFICER})
    driver.complete(OFFICER, "co_review", {"co_reviewer": SECOND_OFFICER, "comment": "请一并审核"})
    task = driver.ready_task()
    assert (task.step, task.assignee) == ("co_review", SECOND_OFFICER)
    with rt.db.sessions() as session:  # not in the first officer's inbox, and not theirs to decide
        assert task.id not in {t.id for t in task_service.inbox(session, load_actor(session, OFFICER))}
    with pytest.raises(NotFoundError):
        driver.complete(OFFICER, "agree")
    driver.complete(SECOND_OFFICER, "agree", {"comment": "同意"})
    assert driver.ready_task().step == "review"
    driver.complete(OFFICER, "approve")
    driver.settle_all()
    assert driver.case().outcome == "approved"


def _wake(rt: Runtime, driver: CaseDriver, at: datetime) -> None:
    with freeze_time(at), rt.db.transaction() as session:
        rt.engine.wake_timers(session, driver.instance_id)


def test_reminder_before_the_limit_and_escalation_to_the_street_after_it(rt: Runtime) -> None:
    driver = certificate(rt)
    case = driver.case()
    assert case.committed_due is not None
    due_day: date = case.committed_due
    calendar = WorkingCalendar()
    remind_day = due_day - timedelta(days=1)
    while not calendar.is_working_day(remind_day):
        remind_day -= timedelta(days=1)
    _wake(rt, driver, datetime.combine(remind_day, datetime.min.time(), tzinfo=CHINA) + timedelta(hours=10))
    assert sms_templates(rt, driver) == ["CASE_RECEIVED", "LIMIT_REMINDER"]
    assert driver.ready_task().step == "intake"  # the reminder interrupts nothing
    driver.settle_all()
    _wake(rt, driver, datetime.combine(due_day, datetime.min.time(), tzinfo=CHINA) + timedelta(hours=18))
    assert sms_templates(rt, driver) == ["CASE_RECEIVED", "LIMIT_REMINDER", "LIMIT_ESCALATED"]
    driver.settle_all()
    ready = {t.step: t for t in driver.tasks(HumanTaskStatus.READY)}
    assert set(ready) == {"intake", "supervise_intake"}
    assert ready["supervise_intake"].role == "street_reviewer"
    assert driver.status is CaseStatus.INTAKE  # supervision does not change what the case waits for
    # The case goes on; when it concludes, an open supervision task is closed with it.
    driver.complete_id(ready["intake"].id, OFFICER, "accept")
    review = next(t for t in driver.tasks(HumanTaskStatus.READY) if t.step == "review")
    driver.complete_id(review.id, OFFICER, "approve")
    driver.settle_all()
    assert driver.status is CaseStatus.CONCLUDED
    assert driver.tasks(HumanTaskStatus.READY) == []


def test_two_officers_complete_the_same_task_at_once(rt: Runtime) -> None:
    add_second_officer(rt)
    driver = certificate(rt)
    task_id = driver.ready_task().id
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def decide(username: str) -> None:
        barrier.wait()
        try:
            driver.complete_id(task_id, username, "accept")
            outcomes[username] = "ok"
        except ConflictError as exc:
            outcomes[username] = exc

    threads = [threading.Thread(target=decide, args=(u,)) for u in (OFFICER, SECOND_OFFICER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(str(v) == "ok" for v in outcomes.values()) == [False, True]
    loser = next(v for v in outcomes.values() if v != "ok")
    assert "already completed" in str(loser)
    assert driver.status is CaseStatus.REVIEW
    assert [t.step for t in driver.tasks(HumanTaskStatus.READY)] == ["review"]


def test_messages_go_to_the_contact_phone_and_a_case_nobody_can_be_told_about_is_refused(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        session.scalars(select(Resident).where(Resident.id_number == DEMO_APPLICANT)).one().phone = None
    with pytest.raises(InputError, match="contact phone"):
        certificate(rt)
    with rt.db.sessions() as session:
        assert session.scalars(select(Case)).all() == []  # nothing half-written
    form = {**CERTIFICATE, "contact_phone": "13700001111"}
    driver = received(CaseDriver(rt, item="residence-certificate", form=form).submit())
    driver.complete(OFFICER, "accept")
    driver.complete(OFFICER, "approve")
    with rt.db.sessions() as session:
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.operation == "sms.send_sms")).all()
        assert [(m.params["template"], m.params["phone"]) for m in sent] == [
            ("CASE_RECEIVED", "13700001111"),
            ("CASE_ACCEPTED", "13700001111"),
            ("CASE_APPROVED", "13700001111"),
        ]


def test_a_late_street_review_is_escalated_to_the_street_office(rt: Runtime) -> None:
    driver = assistance(rt)
    driver.complete(OFFICER, "accept")
    driver.complete(OFFICER, "approve")
    due_day = driver.case().committed_due
    assert due_day is not None
    _wake(rt, driver, datetime.combine(due_day, datetime.min.time(), tzinfo=CHINA) + timedelta(hours=18))
    with rt.db.sessions() as session:
        (sms,) = [
            m
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.operation == "sms.send_sms"))
            if m.params["template"] == "LIMIT_ESCALATED"
        ]
        assert sms.params["phone"] == "13910500100"  # 望京街道's duty phone, not the community's


def test_a_reply_settled_after_the_case_was_withdrawn_leaves_it_withdrawn(rt: Runtime) -> None:
    driver = CaseDriver(rt).submit()  # the subsidy: its acknowledgement SMS is out, not yet answered
    with rt.db.transaction() as session:  # the worker records the reply, and has not settled it yet
        (message,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.process_instance_id == driver.instance_id)
        )
        message.status, message.reply = MessageStatus.DELIVERED, {"sms_id": "SMS-000001", "accepted": True}
        message_id = message.message_id
    with rt.db.transaction() as session:
        applications.withdraw_case(session, rt.engine, load_actor(session, "resident-zhang"), driver.number, "不需要了")
    with rt.db.transaction() as session:
        rt.engine.settle(session, message_id)
    case = driver.case()
    assert (case.status, case.outcome) == (CaseStatus.WITHDRAWN, "withdrawn")
    assert driver.instance().outcome == "withdrawn"
    assert driver.timeline()[-1] == "service_ignored"
