"""Steps, and what a decision recorded, in the page's language. The process names its steps in
Chinese and, in its BPMN, in English (``name_en``); the inbox, the case page, its diagram and the API
say the one the reader chose. A decision is recorded in Chinese; read in English, what was chosen
from a list (a reason, a material, the phrase of the trade) is said in English, typed words as typed."""

from __future__ import annotations

import base64
import re

from console_support import OFFICER, ready_task, sign_in, submit
from flask import Flask
from sqlalchemy import select

from huiju.app.seed import DEMO_PASSWORD
from huiju.models import Case
from huiju.runtime import Runtime
from huiju.services import decisions
from huiju.services.actors import load_actor
from huiju.services.tasks import complete_task
from tests.support.canned import deliver_replies
from workflows_bpmn.models import HumanTask, HumanTaskStatus


def _cells(html: str, pattern: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(pattern, html, flags=re.S)]


def _step_column(inbox: str) -> list[str]:
    """The Step cell of each row of the inbox (its fourth)."""
    rows = re.findall(r"<tr data-task=.*?</tr>", inbox, flags=re.S)
    return [_cells(row, r"<td[^>]*>(.*?)</td>")[3] for row in rows]


def _basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{DEMO_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_the_inbox_and_the_case_page_name_steps_in_the_chosen_language(app: Flask, runtime: Runtime) -> None:
    number = submit(runtime)  # its identity checked: waiting at the community's intake
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    said = {}
    for lang in ("zh", "en"):
        client.get(f"/console/lang/{lang}")
        inbox = client.get("/console/inbox/").get_data(as_text=True)
        case = client.get(f"/console/cases/{number}").get_data(as_text=True)
        current = re.search(r'<strong id="current-step">(.*?)</strong>', case)
        assert current is not None
        diagram = client.get(f"/console/cases/{number}/diagram.bpmn").get_data(as_text=True)
        said[lang] = {
            "diagram": re.findall(
                r'<bpmn:(?:userTask id="intake"|sequenceFlow id="flow_intake_accept"|participant id="[^"]*") name="([^"]*)"',
                diagram,
            ),
            "inbox": _step_column(inbox),
            "current": current.group(1),
            "heading": _cells(case, r'<h2 class="panel-heading h4">(.*?) ·'),
        }
    assert said["zh"]["inbox"] == ["社区受理"] and said["en"]["inbox"] == ["Community intake"]
    assert said["zh"]["diagram"] == ["居家养老服务补贴", "社区受理", "受理"]
    assert said["en"]["diagram"] == ["Home-based elderly care service subsidy", "Community intake", "Accept"]
    assert said["zh"]["current"] == "社区受理" and "社区受理" in said["zh"]["heading"]
    assert said["en"]["current"] == "Community intake" and "Community intake" in said["en"]["heading"]
    assert "社区受理" not in "".join(said["en"]["heading"])
    english_page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "Verify identity" in english_page and "核验身份" not in english_page  # the timeline's steps
    assert "Home-based elderly care service subsidy v" in english_page  # the process it started, in the timeline
    assert "居家养老服务补贴" not in english_page  # nor the item applied for, in the heading or the timeline


def test_the_api_gives_each_step_in_both_languages(app: Flask, runtime: Runtime) -> None:
    number = submit(runtime)
    client = app.test_client()
    case = client.get(f"/api/v1/cases/{number}", headers=_basic(OFFICER)).get_json()
    intake = next(t for t in case["tasks"] if t["step"] == "intake")
    assert (intake["name"], intake["name_en"]) == ("社区受理", "Community intake")
    verified = next(e for e in case["timeline"] if e["step"] == "verify_identity")
    assert (verified["step_name"], verified["step_name_en"]) == ("核验身份", "Verify identity")
    submitted = next(e for e in case["timeline"] if e["kind"] == "submitted")
    assert submitted["step_name_en"] is None


def _decide_as_the_console_does(runtime: Runtime, step: str, decision: str, posted: dict[str, object]) -> None:
    """A decision through the console's own form handling (the words recorded in Chinese)."""
    with runtime.db.transaction() as session:
        actor = load_actor(session, OFFICER)
        task = session.get(HumanTask, ready_task(runtime, step))
        assert task is not None
        options = decisions.decision_options(session, runtime.engine, actor, task, "en")
        data = decisions.decision_data(options, decision, posted)
        complete_task(session, runtime.engine, actor, task.id, decision, data)
    deliver_replies(runtime)


def test_a_decision_recorded_in_chinese_is_read_in_english(app: Flask, runtime: Runtime) -> None:
    asked = submit(runtime)
    _decide_as_the_console_does(runtime, "intake", "supplement", {"missing": ["household_register"],
                                                                  "missing_other": "银行卡复印件"})  # fmt: skip
    refused = submit(runtime)
    with runtime.db.sessions() as session:  # the record keeps the Chinese words
        case = session.scalars(select(Case).where(Case.number == asked)).one()
        recorded = [e.data["form"] for e in case.events if e.kind == "task_completed"]
    assert recorded[-1]["missing_materials"] == ["户口簿", "银行卡复印件"]
    _refuse(runtime, refused)  # waiting at intake too: refused with a reason from the list and words of its own
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    client.get("/console/lang/en")
    page = client.get(f"/console/cases/{asked}").get_data(as_text=True)
    assert "Household register, 银行卡复印件" in page  # the item's material in English; typed words as typed
    assert "Please supply the materials listed, all at once." in page  # the phrase of the trade
    page = client.get(f"/console/cases/{refused}").get_data(as_text=True)
    assert "The matter is not within the remit of this office: 请到街道办理" in page
    assert "申请事项不属于本机关职权范围" not in page
    client.get("/console/lang/zh")
    page = client.get(f"/console/cases/{refused}").get_data(as_text=True)
    assert "申请事项不属于本机关职权范围：请到街道办理" in page


def _refuse(runtime: Runtime, number: str) -> None:
    with runtime.db.transaction() as session:
        actor = load_actor(session, OFFICER)
        task = session.scalars(
            select(HumanTask).join(Case, Case.id == HumanTask.case_id)
            .where(Case.number == number, HumanTask.step == "intake", HumanTask.status == HumanTaskStatus.READY)
        ).one()  # fmt: skip
        options = decisions.decision_options(session, runtime.engine, actor, task, "en")
        data = decisions.decision_data(options, "refuse", {"reason_code": "outside_remit", "comment": "请到街道办理"})
        complete_task(session, runtime.engine, actor, task.id, "refuse", data)
    deliver_replies(runtime)
