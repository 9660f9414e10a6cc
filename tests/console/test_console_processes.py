"""The process pages as an administrator and an integrator: every version with who deployed it, when
(Beijing time) and how many cases run on it; uploading and checking files (every refusal named);
the modeler's check and deploy (JSON, refusals with the element they name); downloads; comparing
two versions; a decision table and a called process deployed on their own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import csrf, sign_in, submit
from flask import Flask
from flask.testing import FlaskClient
from processes_support import BPMN, PROCESS, audited, replaced, subsidy, with_check_step

from adapters.registry import REGISTRY
from huiju.runtime import Runtime
from huiju.services import systems
from huiju.services.actors import load_actor
from officer_console.processes import beijing_time
from workflows_bpmn.models import ProcessDefinition

TIER_FILE = "elderly_care_subsidy_tier.dmn"


def admin(app: Flask, username: str = "admin", lang: str = "zh") -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, username) == 302
    if lang == "en":
        client.get("/console/lang/en")
    return client


def check(client: FlaskClient, xml: str, action: str = "check", version: int | None = 1) -> tuple[int, dict]:
    token = csrf(client, "/console/")
    reply = client.post("/console/processes/modeler/check", json={"xml": xml, "action": action, "process_id": PROCESS,
                        "version": version}, headers={"X-CSRFToken": token})  # fmt: skip
    return reply.status_code, reply.get_json()


def test_the_list_shows_each_version_who_deployed_it_when_and_its_running_cases(runtime: Runtime, app: Flask) -> None:
    submit(runtime)
    page = admin(app).get("/console/processes/").get_data(as_text=True)
    row = re.search(r'<tr data-process="elderly_care_subsidy" data-version="1".*?</tr>', page, re.S)
    assert row is not None
    with runtime.db.sessions() as session:
        definition = session.query(ProcessDefinition).filter_by(process_id=PROCESS).one()
    cells = row.group(0)
    assert definition.deployed_by in cells and beijing_time(definition.deployed_at) in cells
    assert '<td class="running">1</td>' in cells
    assert "居家养老服务补贴" in page and "流程定义" in page and "时间为北京时间" in page
    integrator = admin(app, "integrator").get("/console/processes/").get_data(as_text=True)
    assert 'data-process="elderly_care_subsidy"' in integrator and 'id="upload"' not in integrator


def test_a_version_page_in_both_languages_names_no_code(runtime: Runtime, app: Flask) -> None:
    for lang, words in (("zh", ["流程", "第 1 版", "部署人", "运行中的办件"]), ("en", ["Deployed by", "version 1"])):
        page = admin(app, lang=lang).get(f"/console/processes/{PROCESS}/v1").get_data(as_text=True)
        for word in words:
            assert word in page, (lang, word)
        assert "bpmn-navigated-viewer" in page and f"/files/{BPMN}?inline=1&amp;words=1" in page


def test_the_diagram_is_drawn_in_the_readers_words_and_the_download_is_the_source(app: Flask) -> None:
    """The viewer's copy names lanes by role and, in English, steps and the pool by their English names;
    the download and the modeler's copy are the deployed file, byte for byte."""
    drawn = f"/console/processes/{PROCESS}/v1/files/{BPMN}?inline=1&words=1"
    chinese = admin(app).get(drawn).get_data(as_text=True)
    english = admin(app, lang="en").get(drawn).get_data(as_text=True)
    assert 'name="社区专干"' in chinese and 'name="社区受理"' in chinese and 'name="community_officer"' not in chinese
    assert 'name="Community officer"' in english and 'name="Community intake"' in english
    assert 'name="Home-based elderly care service subsidy"' in english and 'name="居家养老服务补贴"' not in english
    assert admin(app, lang="en").get(drawn.replace("&words=1", "")).get_data(as_text=True) == subsidy()[BPMN]


def test_the_order_diagram_names_its_sms_steps_in_the_readers_words(app: Flask) -> None:
    """The order's SMS steps, the dispatch round's inner ones too, read as words in either language."""
    drawn = "/console/processes/o2o_order/v1/files/o2o_order.bpmn?inline=1&words=1"
    chinese = admin(app).get(drawn).get_data(as_text=True)
    english = admin(app, lang="en").get(drawn).get_data(as_text=True)
    steps = {
        "短信通知：请支付": "Notify by SMS: please pay",
        "短信通知：派单中": "Notify by SMS: offered to a provider",
        "短信：派单中": "Send SMS: offered to a provider",
        "短信通知服务商：人工派单": "Notify provider by SMS: dispatched by the platform",
    }
    for zh, en in steps.items():
        assert f'name="{zh}"' in chinese and f'name="{en}"' in english and f'name="{zh}"' not in english
    assert 'bpmnElement="notify_offered"' in english  # drawn on the dispatch round's own plane


def test_files_are_downloaded_as_xml_attachments(app: Flask) -> None:
    reply = admin(app).get(f"/console/processes/{PROCESS}/v1/files/{BPMN}")
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/xml")
    assert reply.headers["Content-Disposition"] == f"attachment; filename={BPMN}"
    assert (
        reply.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in reply.headers["Content-Security-Policy"]
    )
    assert reply.get_data(as_text=True) == subsidy()[BPMN]
    assert admin(app).get(f"/console/processes/{PROCESS}/v1/files/other.bpmn").status_code == 404


def test_the_modeler_check_names_every_refused_element(app: Flask) -> None:
    client = admin(app)
    broken = replaced(subsidy()[BPMN], 'id="citizen_info.verify_identity"', 'id="citizen_info.steal_everything"')
    broken = replaced(
        broken,
        'value="str(applicant[&quot;id_number&quot;])"/>\n            <spiffworkflow:parameter id="name"',
        'value="__import__(1)"/>\n            <spiffworkflow:parameter id="name"',
    )
    status, body = check(client, broken)
    assert status == 200 and body["ok"] is False
    named = {f["element"] for f in body["findings"]}
    assert named == {"verify_identity"}  # the unknown operation and the refused parameter: one element
    texts = " ".join(f["text"] for f in body["findings"])
    assert "未知的服务操作" in texts or "citizen_info.steal_everything" in texts
    status, body = check(client, subsidy()[BPMN])
    assert (status, body["ok"], body["findings"]) == (200, True, [])
    assert "elderly_care_subsidy" in body["message"]
    status, body = check(client, "<not xml")
    assert status == 200 and body["ok"] is False and body["findings"][0]["element"] is None


def test_the_modeler_deploys_a_new_version_once(runtime: Runtime, app: Flask) -> None:
    client = admin(app)
    changed = with_check_step()[BPMN]
    status, body = check(client, changed, "deploy")
    assert status == 200 and body == {"ok": True, "created": True, "version": 2,
                                      "url": f"/console/processes/{PROCESS}/v2", "message": body["message"]}  # fmt: skip
    [entry] = audited(runtime, "process.deploy")
    assert (entry["actor"], entry["action"], entry["definition"]) == ("admin", "process.deploy", f"{PROCESS} v2")
    with runtime.db.sessions() as session:
        v2 = session.query(ProcessDefinition).filter_by(process_id=PROCESS, version=2).one()
        assert v2.deployed_by == "admin" and set(v2.sources) == {BPMN, TIER_FILE}  # the decision table kept
    status, body = check(client, changed, "deploy")
    assert (status, body["created"], body["version"]) == (200, False, 2)
    refused = replaced(changed, 'id="sms.send_sms" resultVariable="sms_received"', 'id="no.such" resultVariable="x"')
    status, body = check(client, refused, "deploy")
    assert status == 422 and body["findings"][0]["element"] == "sms_received"
    integrator = admin(app, "integrator")
    token = csrf(integrator, "/console/")
    assert (
        integrator.post("/console/processes/modeler/check", json={}, headers={"X-CSRFToken": token}).status_code == 403
    )


def test_upload_checks_then_deploys_a_decision_table_and_a_process_calling_it(runtime: Runtime, app: Flask) -> None:
    client = admin(app)
    table = subsidy()[TIER_FILE].replace('id="subsidy_tier"', 'id="tier_2027"')
    caller = subsidy()[BPMN].replace(
        "<spiffworkflow:calledDecisionId>subsidy_tier", "<spiffworkflow:calledDecisionId>tier_2027"
    )
    caller = caller.replace('id="elderly_care_subsidy"', 'id="subsidy_2027"').replace(
        'processRef="elderly_care_subsidy"', 'processRef="subsidy_2027"')  # fmt: skip

    def upload(files: dict[str, str], action: str) -> str:
        data = {"csrf_token": csrf(client, "/console/processes/"), "action": action,
                "files": [(io_of(text), name) for name, text in files.items()]}  # fmt: skip
        reply = client.post("/console/processes/upload", data=data, content_type="multipart/form-data",
                            follow_redirects=True)  # fmt: skip
        assert reply.status_code == 200
        return reply.get_data(as_text=True)

    refused = upload({"subsidy_2027.bpmn": caller}, "validate")
    assert 'id="validation"' in refused and "tier_2027" in refused and "alert-danger" in refused
    page = upload({"tier_2027.dmn": table}, "deploy")
    assert "已部署 tier_2027 第 1 版" in page and "决策表" in page
    assert "alert-success" in upload({"subsidy_2027.bpmn": caller}, "validate")
    page = upload({"subsidy_2027.bpmn": caller}, "deploy")
    assert 'id="references"' in page and "tier_2027 · 第 1 版" in page
    table_page = client.get("/console/processes/tier_2027/v1").get_data(as_text=True)
    assert 'id="called-by"' in table_page and "subsidy_2027" in table_page


def io_of(text: str) -> object:
    import io

    return io.BytesIO(text.encode("utf-8"))


def test_two_versions_compared_element_by_element(runtime: Runtime, app: Flask) -> None:
    sources = with_check_step()
    sources[BPMN] = replaced(sources[BPMN], 'value="accept,refuse,supplement"', 'value="accept,refuse"')
    client = admin(app)
    status, body = check(client, sources[BPMN], "deploy")
    assert body["version"] == 2
    page = client.get(f"/console/processes/{PROCESS}/compare?old=1&new=2").get_data(as_text=True)
    rows = dict(re.findall(r'data-element="([^"]+)" data-change="([^"]+)"', page))
    assert rows == {"check_materials": "added", "flow_checked": "added", "intake": "changed",
                    "street_review": "changed", "flow_intake_accept": "changed", "community_officer": "changed"}  # fmt: skip
    assert "属性 decisions" in page and "<del>accept,refuse,supplement</del> → <ins>accept,refuse</ins>" in page
    assert "用户任务" in page and "顺序流" in page  # kinds in words
    assert "&#34;check_materials&#34;: &#34;added&#34;" in page  # marked on the new version's diagram
    english = admin(app, lang="en").get(f"/console/processes/{PROCESS}/compare?old=1&new=2").get_data(as_text=True)
    assert "property decisions" in english and "user task" in english


def test_the_palette_offers_what_huiju_reads_in_words(app: Flask) -> None:
    palette = admin(app).get("/console/processes/palette.json").get_json()
    assert {"code": "community_officer", "label": "社区专干", "zh": "社区专干"} in palette["lanes"]
    operations = {o["code"]: o for o in palette["operations"]}
    assert operations["sms.send_sms"]["label"] == "短信平台：发送短信"
    assert [p["name"] for p in operations["sms.send_sms"]["params"]] == ["phone", "template", "params"]
    assert {"code": "supplement", "label": "补正"} in palette["decisions"]
    assert {"code": "pauses_clock", "label": "等待期间时限暂停计算（补正）"} in palette["flags"]
    assert [p["id"] for p in palette["processes"]] == ["community_approval", PROCESS, "o2o_complaint", "o2o_order",
                                                        "o2o_settlement", "rating_follow_up",
                                                        "service_request"]  # fmt: skip


@pytest.fixture()
def housing_uploaded(runtime: Runtime) -> Iterator[None]:
    """The housing system's WSDL uploaded by the integrator and one of its operations mapped."""
    wsdl = (Path(__file__).parents[1] / "admin" / "housing.wsdl").read_bytes()
    with runtime.db.transaction() as session:
        integrator = load_actor(session, "integrator")
        systems.upload_system(session, integrator, "housing", "住房保障系统", "housing security system", wsdl)
        systems.map_operation(session, integrator, "housing", "housing.query_housing", "QueryHousing")
    systems.refresh_registry()
    yield
    REGISTRY.refresh(force=True)  # the next test's database has no uploaded systems


def test_the_palette_offers_an_uploaded_systems_operation(app: Flask, housing_uploaded: None) -> None:
    operations = {o["code"]: o for o in admin(app).get("/console/processes/palette.json").get_json()["operations"]}
    assert operations["housing.query_housing"]["label"] == "住房保障系统 · QueryHousing"
    assert {p["name"] for p in operations["housing.query_housing"]["params"]} >= {"id_number"}
    english = admin(app, lang="en").get("/console/processes/palette.json").get_json()["operations"]
    assert {"code": "housing.query_housing", "label": "housing security system · QueryHousing"} in [
        {"code": o["code"], "label": o["label"]} for o in english
    ]


def test_a_new_process_starts_from_a_diagram_with_a_start_event(app: Flask) -> None:
    client = admin(app)
    token = csrf(client, "/console/processes/new")
    page = client.post("/console/processes/new", data={"csrf_token": token, "process_id": "housing_help",
                                                       "name": "住房<救助>", "name_en": "Housing \"help\""})  # fmt: skip
    assert page.status_code == 200 and "new/diagram.bpmn?process_id=housing_help" in page.get_data(as_text=True)
    blank = "/console/processes/new/diagram.bpmn?process_id=housing_help&name=住房<救助>"
    xml = client.get(f"{blank}&name_en=Housing%20%22help%22").get_data(as_text=True)
    assert 'id="housing_help" name="住房&lt;救助&gt;" isExecutable="true"' in xml
    assert '<spiffworkflow:property name="name_en" value="Housing &quot;help&quot;"/>' in xml
    assert client.get("/console/processes/new/diagram.bpmn?process_id=1bad").status_code == 400
    refused = client.get(blank)  # no English name: English pages would show the Chinese one
    assert refused.status_code == 400 and "请为流程填写英文名称" in refused.get_data(as_text=True)


def test_every_built_in_operation_and_callback_is_worded() -> None:
    """No operation code reaches a person: each built-in system's operations have words in the
    modeler's list and on the pages of messages, and so does each callback a system may send."""
    from exchange.inbound import ALLOWED_CLIENTS
    from huiju.labels import OPERATIONS as SHOWN
    from huiju.services.modeler import OPERATIONS as MODELED

    built_in = [spec.name for system in REGISTRY.systems() if system.builtin for spec in system.operations]
    assert built_in and set(built_in) <= set(MODELED) and set(built_in) <= set(SHOWN)
    assert set(ALLOWED_CLIENTS) <= set(SHOWN)
