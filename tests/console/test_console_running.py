"""Running cases for administrators: search them, and suspend, resume, move or migrate one (a dry run
first), or every case of a version; each action on the case's timeline and in the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

from console_support import ITEM, OFFICER, OTHER_OFFICER, REVIEWER, csrf, decide, ready_task, sign_in, submit
from flask import Flask
from flask.testing import FlaskClient
from processes_support import audited, deploy, version_id, with_check_step, without_supplement
from sqlalchemy import select

from huiju.app.seed import community_for
from huiju.db import utcnow
from huiju.models import Case, CaseStatus, Resident
from huiju.runtime import Runtime
from huiju.services import audit_trail
from huiju.services.actors import load_actor
from huiju.services.cases import submit_case
from huiju.services.clock import china_day
from huiju.services.tasks import complete_task
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, HumanTaskStatus, InstanceStatus, ProcessInstance

OPERATIONS = ("case.suspend", "case.resume", "case.move", "case.migrate")
FORM = {"income_band": "subsistence", "disability": "none", "living_alone": True}


def admin(app: Flask, lang: str = "zh") -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, "admin") == 302
    if lang == "en":
        client.get("/console/lang/en")
    return client


def post(client: FlaskClient, path: str, **data: str) -> str:
    reply = client.post(path, data={"csrf_token": csrf(client, "/console/"), **data}, follow_redirects=True)
    assert reply.status_code == 200, path
    return reply.get_data(as_text=True)


def case_of(runtime: Runtime, number: str) -> tuple[CaseStatus, ProcessInstance]:
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        instance = session.get(ProcessInstance, case.process_instance_id)
        assert instance is not None
        return case.status, instance


def other_community_case(runtime: Runtime) -> str:
    """A case of a resident of 花家地社区, submitted at that community's counter."""
    with runtime.db.transaction() as session:
        residents = session.scalars(select(Resident).order_by(Resident.id)).all()
        applicant = next(r for r in residents if community_for(r.id_number) == "110105001002"
                         and r.birth_date.year < 1960)  # fmt: skip
        number = submit_case(session, runtime.engine, load_actor(session, OTHER_OFFICER), ITEM, applicant.id_number,
                             dict(FORM)).number  # fmt: skip
    deliver_replies(runtime)
    return number


def test_search_by_number_applicant_item_status_community_dates_and_version(runtime: Runtime, app: Flask) -> None:
    mine, theirs = submit(runtime), other_community_case(runtime)
    client = admin(app)

    def found(**query: str) -> set[str]:
        page = client.get("/console/running/", query_string=query).get_data(as_text=True)
        return set(re.findall(r'<tr data-number="(HJ\d+)"', page))

    assert found() == {mine, theirs}
    assert found(number=mine[-5:]) == {mine}
    assert found(applicant="张秀英") == {mine}
    assert found(applicant="110105193801012340") == {mine}
    assert found(item=ITEM, status="intake") == {mine, theirs}
    assert found(status="concluded") == set()
    assert found(community="110105001002") == {theirs}
    today = china_day(utcnow())
    assert found(**{"from": today.isoformat(), "to": today.isoformat()}) == {mine, theirs}
    assert found(**{"from": (today + timedelta(days=1)).isoformat()}) == set()
    assert found(definition=str(version_id(runtime, 1))) == {mine, theirs}
    page = client.get("/console/running/", query_string={"number": mine}).get_data(as_text=True)
    assert "张秀英" in page and "110105********2340" in page and "待受理" in page and "第 1 版" in page
    assert client.get("/console/running/?status=nonsense").status_code == 400
    english = admin(app, "en").get("/console/running/", query_string={"number": mine}).get_data(as_text=True)
    assert "Case search" in english and "version 1" in english


def test_suspend_and_resume_a_case_audited_and_on_its_timeline(runtime: Runtime, app: Flask) -> None:
    number = submit(runtime)
    client = admin(app)
    page = post(client, f"/console/running/{number}/suspend", reason="")
    assert "请填写原因" in page and case_of(runtime, number)[0] is CaseStatus.INTAKE
    page = post(client, f"/console/running/{number}/suspend", reason="材料存疑，暂停办理")
    assert 'id="suspended-note"' in page and "已中止" in page
    status, instance = case_of(runtime, number)
    assert (status, instance.status, instance.suspended_from) == (CaseStatus.SUSPENDED, InstanceStatus.SUSPENDED,
                                                                  "running")  # fmt: skip
    [entry] = audited(runtime, *OPERATIONS)
    assert (entry["action"], entry["case_number"], entry["detail"]) == ("case.suspend", number, "材料存疑，暂停办理")
    assert entry["before"]["case_status"] == "intake" and entry["after"]["case_status"] == "suspended"
    # The officer sees the case suspended and cannot decide it.
    officer = app.test_client()
    sign_in(officer, OFFICER)
    reply = officer.post(
        f"/console/cases/{number}/tasks/{ready_task(runtime, 'intake')}/decide",
        data={"csrf_token": csrf(officer, "/console/"), "decision": "accept"},
        follow_redirects=True,
    )
    assert "办件已被管理员中止" in reply.get_data(as_text=True)
    page = post(client, f"/console/running/{number}/resume", reason="核实无误")
    assert case_of(runtime, number)[0] is CaseStatus.INTAKE and "待受理" in page
    assert audited(runtime, *OPERATIONS)[-1]["action"] == "case.resume"
    timeline = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "已中止" in timeline and "已恢复" in timeline and "核实无误" in timeline


def test_move_a_case_to_another_step(runtime: Runtime, app: Flask) -> None:
    number = submit(runtime)
    client = admin(app)
    page = client.get(f"/console/running/{number}").get_data(as_text=True)
    assert 'id="positions">社区受理 <code>intake</code>' in page
    assert '<option value="street_review">街道审核 (street_review)</option>' in page
    page = post(client, f"/console/running/{number}/move", to_step="street_review", reason="线下已受理")
    assert "街道审核中" in page and 'id="positions">街道审核 <code>street_review</code>' in page
    with runtime.db.sessions() as session:
        tasks = session.execute(select(HumanTask.step, HumanTask.status).join(Case, Case.id == HumanTask.case_id)
                                .where(Case.number == number).order_by(HumanTask.created_at)).all()  # fmt: skip
    assert [(t.step, t.status) for t in tasks] == [("intake", HumanTaskStatus.CANCELLED),
                                                   ("street_review", HumanTaskStatus.READY)]  # fmt: skip
    [entry] = audited(runtime, *OPERATIONS)
    assert (entry["action"], entry["after"]["step"], entry["detail"]) == ("case.move", "street_review", "线下已受理")
    decide(runtime, REVIEWER, "street_review", "approve")
    assert case_of(runtime, number)[0] is CaseStatus.CONCLUDED


def test_migrate_one_case_after_its_dry_run(runtime: Runtime, app: Flask) -> None:
    number = submit(runtime)
    v2 = deploy(runtime, with_check_step())
    client = admin(app)
    page = client.get(f"/console/running/{number}", query_string={"to": v2.id}).get_data(as_text=True)
    assert 'id="dry-run"' in page and "可以迁移到第 2 版" in page
    assert case_of(runtime, number)[1].definition_id == version_id(runtime, 1)  # the dry run changed nothing
    page = post(client, f"/console/running/{number}/migrate", to=str(v2.id))
    assert "办件已迁移到第 2 版" in page and case_of(runtime, number)[1].definition_id == v2.id
    [entry] = [e for e in audited(runtime, *OPERATIONS) if e["action"] == "case.migrate"]
    assert (entry["channel"], entry["definition"]) == ("console", "elderly_care_subsidy v2")
    assert (entry["before"]["definition_id"], entry["after"]["definition_id"]) == (version_id(runtime, 1), v2.id)
    with runtime.db.sessions() as session:  # in the hash chain with every other entry, and it holds
        assert audit_trail.verify(session).ok
    decide(runtime, OFFICER, "intake", "accept")
    assert ready_task(runtime, "check_materials")  # version 2's new step


def test_migrate_every_case_of_a_version_those_that_cannot_stay(runtime: Runtime, app: Flask) -> None:
    at_intake = submit(runtime)
    waiting = submit(runtime)
    with runtime.db.sessions() as session:
        task_id = session.scalars(select(HumanTask.id).join(Case, Case.id == HumanTask.case_id)
                                  .where(Case.number == waiting, HumanTask.status == HumanTaskStatus.READY)).one()  # fmt: skip
    with runtime.db.transaction() as session:
        complete_task(session, runtime.engine, load_actor(session, OFFICER), task_id, "supplement",
                      {"missing_materials": ["户口簿"]})  # fmt: skip
    deliver_replies(runtime)
    assert case_of(runtime, waiting)[0] is CaseStatus.AWAITING_SUPPLEMENT
    v2 = deploy(runtime, without_supplement(with_check_step()))
    v1 = version_id(runtime, 1)
    client = admin(app)
    page = client.get("/console/running/migration", query_string={"from": v1, "to": v2.id}).get_data(as_text=True)
    assert "运行中的 2 件中有 1 件可以迁移" in page
    rows = dict(re.findall(r'<tr class="(success|danger)" data-number="(HJ\d+)"', page)[i][::-1] for i in range(2))
    assert rows == {at_intake: "success", waiting: "danger"}
    assert "它所在的环节 补正材料 (supplement) 在第 2 版中已不存在" in page
    page = post(client, "/console/running/migration", **{"from": str(v1), "to": str(v2.id)})
    assert "已迁移 1 件；1 件留在原版本" in page
    assert case_of(runtime, at_intake)[1].definition_id == v2.id
    assert case_of(runtime, waiting)[1].definition_id == v1
