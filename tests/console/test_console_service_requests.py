"""A resident's service request (诉求) answered in the console: the officer writes the answer, the case
ends 'answered' and the resident gets the answer by SMS; an empty answer is refused and changes nothing."""

from __future__ import annotations

from console_support import OFFICER, OTHER_OFFICER, csrf, ready_task, sign_in
from flask import Flask
from sqlalchemy import select

from exchange.models import OutboxMessage
from huiju.app.seed import DEMO_APPLICANT
from huiju.calendar import WorkingCalendar
from huiju.models import Case, CaseStatus
from huiju.runtime import Runtime
from huiju.services import ratings, worklist
from huiju.services import tasks as task_service
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from tests.support.canned import deliver_replies

REQUEST = {"category": "lighting", "description": "3号楼二单元楼道灯不亮已一周", "location": "望京西园三区3号楼"}


def request_case(runtime: Runtime) -> str:
    with runtime.db.transaction() as session:
        actor = load_actor(session, "resident-zhang")
        number = submit_case(session, runtime.engine, actor, "repair-request", DEMO_APPLICANT, REQUEST).number
    deliver_replies(runtime)
    return number


def case_of(runtime: Runtime, number: str) -> Case:
    with runtime.db.sessions() as session:
        return session.scalars(select(Case).where(Case.number == number)).one()


def test_officer_answers_a_repair_request_in_the_console(runtime: Runtime, app: Flask) -> None:
    number = request_case(runtime)
    assert case_of(runtime, number).status is CaseStatus.ANSWERING
    task_id = ready_task(runtime, "answer")
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert 'name="answer"' in page and "答复" in page
    token = csrf(client, f"/console/cases/{number}")
    path = f"/console/cases/{number}/tasks/{task_id}/decide"
    refused = client.post(path, data={"csrf_token": token, "decision": "answer", "answer": "  "}, follow_redirects=True)
    assert "请填写给居民的答复" in refused.get_data(as_text=True)
    assert case_of(runtime, number).status is CaseStatus.ANSWERING
    answer = "已安排物业今日更换楼道灯，请留意。"
    done = client.post(path, data={"csrf_token": token, "decision": "answer", "answer": answer})
    assert done.status_code == 303
    with runtime.db.sessions() as session:
        sms = session.scalars(
            select(OutboxMessage).where(OutboxMessage.case_number == number).order_by(OutboxMessage.id.desc())
        ).first()
        assert sms is not None and sms.params["template"] == "REQUEST_ANSWERED"
        assert sms.params["params"]["answer"] == answer
    deliver_replies(runtime)
    case = case_of(runtime, number)
    assert (case.status, case.outcome) == (CaseStatus.CONCLUDED, "answered")


def test_another_community_cannot_answer(runtime: Runtime, app: Flask) -> None:
    number = request_case(runtime)
    task_id = ready_task(runtime, "answer")
    client = app.test_client()
    assert sign_in(client, OTHER_OFFICER) == 302
    token = csrf(client, "/console/")
    reply = client.post(
        f"/console/cases/{number}/tasks/{task_id}/decide",
        data={"csrf_token": token, "decision": "answer", "answer": "x"},
    )
    assert reply.status_code == 404
    assert case_of(runtime, number).status is CaseStatus.ANSWERING


def test_a_bad_rating_opens_a_follow_up_with_its_own_limit_closed_only_with_what_was_done(
    runtime: Runtime, app: Flask
) -> None:
    number = request_case(runtime)
    with runtime.db.transaction() as session:
        task_service.complete_task(session, runtime.engine, load_actor(session, OFFICER), ready_task(runtime, "answer"),
                                   "answer", {"answer": "已报修"})  # fmt: skip
    deliver_replies(runtime)
    with runtime.db.transaction() as session:
        ratings.rate_case(session, runtime.engine, load_actor(session, "resident-zhang"), number, 1, "一周了还没修")
    with runtime.db.sessions() as session:
        (row,) = [r for r in worklist.inbox_rows(session, load_actor(session, OFFICER)) if r.task.step == "follow_up"]
        calendar = WorkingCalendar.load(session)
        expected = calendar.add_working_days(worklist.today_in_china(), 5)
        assert (row.committed.due, row.committed.working_days, row.committed.urgency) == (expected, 5, "ok")
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    task_id = ready_task(runtime, "follow_up")
    token = csrf(client, f"/console/cases/{number}")
    path = f"/console/cases/{number}/tasks/{task_id}/decide"
    refused = client.post(path, data={"csrf_token": token, "decision": "done"}, follow_redirects=True)
    assert "请说明处理情况" in refused.get_data(as_text=True)
    assert (
        client.post(path, data={"csrf_token": token, "decision": "done", "comment": "已上门回访并修复"}).status_code
        == 303
    )
    assert case_of(runtime, number).status is CaseStatus.CONCLUDED  # the follow-up never changes the case
