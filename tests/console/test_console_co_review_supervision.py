"""加签 and 督办 in the console: the co-reviewer named by the process gets agree/disagree forms with a
comment, the street reviewer gets a "done" form for a supervision task, and officers of other
communities or streets find neither case."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from console_support import (
    COLLEAGUE,
    FAR_OFFICER,
    FAR_REVIEWER,
    OFFICER,
    OTHER_OFFICER,
    REVIEWER,
    csrf,
    decide,
    ready_task,
    sign_in,
)
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select

from huiju.app.seed import DEMO_APPLICANT
from huiju.calendar import CHINA
from huiju.errors import ConflictError
from huiju.models import Case, CaseEvent
from huiju.runtime import Runtime
from huiju.services import tasks as task_service
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, HumanTaskStatus

CERTIFICATE = {"purpose": "school", "address": "望京西园三区 112 号楼"}
ZH = {"Accept-Language": "zh-CN"}


def certificate(runtime: Runtime) -> str:
    """A residence certificate case (the generic community process), waiting at intake."""
    with runtime.db.transaction() as session:
        actor = load_actor(session, OFFICER)
        number = submit_case(
            session, runtime.engine, actor, "residence-certificate", DEMO_APPLICANT, dict(CERTIFICATE)
        ).number
    deliver_replies(runtime)
    return number


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, username) == 302
    return client


def form_of(page: str, form_id: str) -> str:
    found = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
    assert found, f"no form {form_id} on the page"
    return found.group(0)


def post_decision(client: FlaskClient, number: str, task_id: str, data: dict[str, str]) -> str:
    token = csrf(client, f"/console/cases/{number}")
    page = f"/console/cases/{number}"
    reply = client.post(
        f"{page}/tasks/{task_id}/decide", data={"csrf_token": token, **data}, headers={**ZH, "Referer": page}
    )
    assert reply.status_code == 303, reply.status_code
    return client.get(reply.headers["Location"], headers=ZH).get_data(as_text=True)


def ready_steps(runtime: Runtime) -> set[str]:
    with runtime.db.sessions() as session:
        return set(session.scalars(select(HumanTask.step).where(HumanTask.status == HumanTaskStatus.READY)))


def test_the_named_co_reviewer_agrees_or_disagrees_with_a_comment(runtime: Runtime, app: Flask) -> None:
    number = certificate(runtime)
    decide(runtime, OFFICER, "intake", "accept")
    officer = signed_in(app, OFFICER)
    review_id = ready_task(runtime, "review")
    page = officer.get(f"/console/cases/{number}", headers=ZH).get_data(as_text=True)
    ask = form_of(page, "decide-co_review")
    assert f'<option value="{COLLEAGUE}">' in ask and "加签" in ask
    page = post_decision(officer, number, review_id, {"decision": "co_review", "co_reviewer": COLLEAGUE,
                                                     "comment": "请核实租住地址"})  # fmt: skip
    assert 'id="decide-agree"' not in page  # the requester cannot answer their own co-review
    co_review_id = ready_task(runtime, "co_review")

    colleague = signed_in(app, COLLEAGUE)
    assert number in colleague.get("/console/inbox/", headers=ZH).get_data(as_text=True)
    page = colleague.get(f"/console/cases/{number}", headers=ZH).get_data(as_text=True)
    agree, disagree = form_of(page, "decide-agree"), form_of(page, "decide-disagree")
    assert "同意" in agree and 'name="comment"' in agree
    assert "不同意" in disagree and re.search(r'<textarea[^>]*name="comment"[^>]*required', disagree)
    assert 'id="named-co_review"' in page and 'id="release"' not in page and 'id="transfer-form"' not in page
    with runtime.db.transaction() as session:  # nor can it be handed on behind the page's back
        actor = load_actor(session, COLLEAGUE)
        with pytest.raises(ConflictError, match="named for officer-chaoyang-01b"):
            task_service.release_task(session, actor, co_review_id)
        with pytest.raises(ConflictError, match="named for officer-chaoyang-01b"):
            task_service.transfer_task(session, actor, co_review_id, OFFICER, "忙")

    # Disagreeing without saying why is refused and changes nothing; with a reason it is recorded.
    page = post_decision(colleague, number, co_review_id, {"decision": "disagree", "comment": " "})
    assert "alert-danger" in page and ready_steps(runtime) == {"co_review"}
    page = post_decision(colleague, number, co_review_id, {"decision": "disagree", "comment": "地址与户籍不符"})
    assert "已办理：不同意" in page
    assert ready_steps(runtime) == {"review"}
    with runtime.db.sessions() as session:
        done = session.get(HumanTask, co_review_id)
        assert done is not None and (done.decision, done.completed_by) == ("disagree", COLLEAGUE)


def escalate(runtime: Runtime, number: str) -> None:
    """Let the committed limit of the case pass: the timers open a supervision task (督办)."""
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.committed_due is not None and case.process_instance_id is not None
        past_limit = datetime.combine(case.committed_due, time(18), tzinfo=CHINA) + timedelta(days=1)
        instance_id = case.process_instance_id
    with freeze_time(past_limit), runtime.db.transaction() as session:
        runtime.engine.wake_timers(session, instance_id)
    deliver_replies(runtime)


def test_the_street_closes_a_supervision_task(runtime: Runtime, app: Flask) -> None:
    number = certificate(runtime)
    escalate(runtime, number)
    assert ready_steps(runtime) == {"intake", "supervise_intake"}
    task_id = ready_task(runtime, "supervise_intake")

    reviewer = signed_in(app, REVIEWER)
    page = reviewer.get(f"/console/cases/{number}", headers=ZH).get_data(as_text=True)
    done = form_of(page, "decide-done")
    assert "完成" in done and 'name="comment"' in done
    assert 'id="decide-accept"' not in page  # the intake stays the community's
    page = post_decision(reviewer, number, task_id, {"decision": "accept"})  # not a decision of this step
    assert "alert-danger" in page
    assert ready_steps(runtime) == {"intake", "supervise_intake"}
    page = post_decision(reviewer, number, task_id, {"decision": "done", "comment": "已电话督促社区当日办结"})
    assert "已办理：完成" in page
    assert ready_steps(runtime) == {"intake"}
    with runtime.db.sessions() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None and (task.decision, task.completed_by) == ("done", REVIEWER)
        assert session.scalars(select(CaseEvent).where(CaseEvent.kind == "task_completed")).all()


def test_other_communities_and_streets_find_neither_case(runtime: Runtime, app: Flask) -> None:
    co_reviewed = certificate(runtime)
    decide(runtime, OFFICER, "intake", "accept")
    decide(runtime, OFFICER, "review", "co_review", {"co_reviewer": COLLEAGUE, "comment": "请一并审核"})
    co_review_id = ready_task(runtime, "co_review")
    for username in (OTHER_OFFICER, FAR_OFFICER, FAR_REVIEWER):
        client = signed_in(app, username)
        assert client.get(f"/console/cases/{co_reviewed}", headers=ZH).status_code == 404, username
        reply = client.post(
            f"/console/cases/{co_reviewed}/tasks/{co_review_id}/decide",
            data={"csrf_token": csrf(client, "/console/"), "decision": "agree"},
            headers=ZH,
        )
        assert reply.status_code == 404, username
    assert ready_steps(runtime) == {"co_review"}
    assert signed_in(app, OFFICER).get(f"/console/cases/{co_reviewed}", headers=ZH).status_code == 200

    supervised = certificate(runtime)
    escalate(runtime, supervised)
    supervise_id = ready_task(runtime, "supervise_intake")
    for username in (OTHER_OFFICER, FAR_OFFICER, FAR_REVIEWER):
        client = signed_in(app, username)
        assert client.get(f"/console/cases/{supervised}", headers=ZH).status_code == 404, username
        reply = client.post(
            f"/console/cases/{supervised}/tasks/{supervise_id}/decide",
            data={"csrf_token": csrf(client, "/console/"), "decision": "done"},
            headers=ZH,
        )
        assert reply.status_code == 404, username
    assert ready_steps(runtime) == {"co_review", "intake", "supervise_intake"}
    assert signed_in(app, REVIEWER).get(f"/console/cases/{supervised}", headers=ZH).status_code == 200
