"""Steps are named in the page's language: the process names them in Chinese and, in its BPMN, in
English (``name_en``); the inbox, the case page, its diagram and the API say the one the reader chose."""

from __future__ import annotations

import base64
import re

from console_support import OFFICER, sign_in, submit
from flask import Flask

from huiju.app.seed import DEMO_PASSWORD
from huiju.runtime import Runtime


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
            "diagram": re.findall(r'<bpmn:userTask id="intake" name="([^"]*)"', diagram),
            "inbox": _step_column(inbox),
            "current": current.group(1),
            "heading": _cells(case, r'<h2 class="panel-heading h4">(.*?) ·'),
        }
    assert said["zh"]["inbox"] == ["社区受理"] and said["en"]["inbox"] == ["Community intake"]
    assert said["zh"]["diagram"] == ["社区受理"] and said["en"]["diagram"] == ["Community intake"]
    assert said["zh"]["current"] == "社区受理" and "社区受理" in said["zh"]["heading"]
    assert said["en"]["current"] == "Community intake" and "Community intake" in said["en"]["heading"]
    assert "社区受理" not in "".join(said["en"]["heading"])
    english_page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "Verify identity" in english_page and "核验身份" not in english_page  # the timeline's steps
    assert "Home elderly-care subsidy v" in english_page  # the process it started, in the timeline
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
