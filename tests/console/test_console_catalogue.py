"""The item catalogue kept by an administrator: a draft is added, checked field by field, published
(its process must be deployed) and withdrawn; a published item's form changes in a new version, and
a case keeps the version it was submitted with. Every change is audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from console_support import FORM, ITEM, OFFICER, csrf, sign_in, submit
from flask import Flask
from flask.testing import FlaskClient
from processes_support import audited
from sqlalchemy import select

from huiju.app.seed import DEMO_APPLICANT
from huiju.models import Case, Item, ItemState
from huiju.runtime import Runtime
from huiju.services import cases as case_service
from huiju.services.actors import load_actor
from huiju.services.catalogue import ItemFields

SCHEMA = {
    "type": "object",
    "required": ["rooms"],
    "properties": {
        "rooms": {"type": "integer", "title": "住房间数", "x-title-en": "Rooms", "minimum": 1},
        "kind": {"type": "string", "enum": ["rent", "own"], "title": "住房类型",
                 "x-enum-labels": {"rent": {"zh": "租住", "en": "Rented"}, "own": {"zh": "自有", "en": "Owned"}}},
    },
}  # fmt: skip


def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, "admin") == 302
    return client


def form_of(fields: ItemFields, **changes: Any) -> dict[str, str]:
    values = {**fields.__dict__, **changes}
    form = {k: str(v) for k, v in values.items() if k not in ("form_schema", "required_materials")}
    form["form_schema"] = json.dumps(values["form_schema"], ensure_ascii=False)
    for n, m in enumerate(values["required_materials"]):
        form.update({f"m-{n}-code": m["code"], f"m-{n}-name": m["name"], f"m-{n}-name_en": m.get("name_en", "")})
        if m.get("required"):
            form[f"m-{n}-required"] = "on"
    return form


def post(client: FlaskClient, path: str, form: dict[str, str]) -> str:
    reply = client.post(path, data={"csrf_token": csrf(client, "/console/items/"), **form}, follow_redirects=True)
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def item(runtime: Runtime, code: str) -> Item:
    with runtime.db.sessions() as session:
        return session.scalars(select(Item).where(Item.code == code)).one()


NEW = ItemFields(code="housing-help", name="住房困难救助", name_en="Housing hardship assistance", kind="public_service",
                 responsible_level="community", statutory_limit=20, committed_limit=10, limit_unit="working_days",
                 process_id="community_approval", form_schema=SCHEMA, theme="social_assistance",
                 required_materials=[{"code": "id_card", "name": "居民身份证", "name_en": "ID card", "required": True},
                                     {"code": "lease", "name": "租赁合同", "name_en": "Lease", "required": False}])  # fmt: skip


def test_a_draft_is_added_published_and_withdrawn(runtime: Runtime, app: Flask) -> None:
    client = admin(app)
    page = post(client, "/console/items/new", form_of(NEW))
    assert "事项 housing-help 已作为草稿新增" in page and 'id="item-state">草稿' in page
    added = item(runtime, "housing-help")
    assert (added.state, added.active, added.form_version) == (ItemState.DRAFT, False, 1)
    assert added.required_materials[1] == {
        "code": "lease",
        "name": "租赁合同",
        "name_en": "Lease",
        "required": False,
    }
    with runtime.db.sessions() as session:
        assert "housing-help" not in [i.code for i in case_service.list_items(session)]  # not offered yet
    page = post(client, "/console/items/housing-help/publish", {})
    assert "已发布：居民可以申请" in page
    with runtime.db.sessions() as session:
        assert "housing-help" in [i.code for i in case_service.list_items(session)]
    assert app.test_client().get("/api/v1/items/housing-help", headers={"Authorization": "Basic " + _basic()}
                                 ).status_code == 200  # fmt: skip
    page = post(client, "/console/items/housing-help/withdraw", {"reason": "政策调整"})
    assert "已停办" in page and item(runtime, "housing-help").active is False
    actions = [
        entry["action"] for entry in audited(runtime, "item.create", "item.update", "item.publish", "item.withdraw")
    ]
    assert actions == ["item.create", "item.publish", "item.withdraw"]


def _basic() -> str:
    import base64

    from huiju.app.seed import DEMO_PASSWORD

    return base64.b64encode(f"resident-zhang:{DEMO_PASSWORD}".encode()).decode()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"code": "Bad Code"}, "编码：2 到 63 个小写字母"),
        ({"name_en": ""}, "请填写事项的中文名称和英文名称"),
        ({"committed_limit": 30}, "承诺时限不得长于法定时限"),
        ({"supplement_wait": "30 days"}, "ISO 8601 时长"),
        ({"supplement_wait_days": "0"}, "补正最长等待天数：1 到 365 天"),
        ({"supplement_wait_days": "400"}, "补正最长等待天数：1 到 365 天"),
        ({"supplement_wait_days": "两周"}, "补正最长等待天数：请填写整数天数"),
        ({"kind": "nonsense"}, "不在可选范围内"),
        ({"form_schema": {"type": "object", "properties": {"x": {"type": "string"}}}}, "表单字段 x：请填写标题"),
        ({"form_schema": {"type": "object", "properties": {}, "required": ["x"]}}, "表单要求填写 x"),
        ({"form_schema": {"type": "array"}}, "且带有"),
        ({"code": ITEM}, "已存在"),
    ],
)
def test_every_field_is_checked_and_nothing_is_written(
    runtime: Runtime, app: Flask, changes: dict[str, Any], problem: str
) -> None:
    page = post(admin(app), "/console/items/new", form_of(NEW, **changes))
    assert problem in page
    with runtime.db.sessions() as session:
        assert session.scalars(select(Item).where(Item.code == "housing-help")).one_or_none() is None


def test_the_supplement_wait_is_asked_in_days_and_a_length_of_hours_is_kept_as_it_is(
    runtime: Runtime, app: Flask
) -> None:
    client = admin(app)
    post(client, "/console/items/new", form_of(NEW, supplement_wait_days="15"))
    assert item(runtime, "housing-help").supplement_wait == "P15D"
    page = client.get("/console/items/housing-help").get_data(as_text=True)
    assert 'id="supplement_wait_days" name="supplement_wait_days" value="15"' in page
    assert "P15D" not in page  # no duration code on the page
    with runtime.db.transaction() as session:  # a length the form cannot show as days (set by other means)
        session.scalars(select(Item).where(Item.code == "housing-help")).one().supplement_wait = "PT4H"
    page = client.get("/console/items/housing-help").get_data(as_text=True)
    assert "现为 4 小时；如需修改，请填写天数。" in page
    fields = {k: v for k, v in form_of(NEW, name="住房补助（新）").items() if k != "supplement_wait"}
    post(client, "/console/items/housing-help", {**fields, "supplement_wait": "PT4H", "supplement_wait_days": ""})
    assert (item(runtime, "housing-help").name, item(runtime, "housing-help").supplement_wait) == (
        "住房补助（新）",
        "PT4H",
    )
    client.get("/console/lang/en")
    english = client.get("/console/items/housing-help").get_data(as_text=True)
    assert (
        "Days a supplement (补正) may wait" in english
        and "Now 4 hours; enter a number of days to change it." in english
    )


def test_a_schema_that_is_not_json_is_refused_with_where(app: Flask) -> None:
    form = {**form_of(NEW), "form_schema": '{"type": "object",'}
    assert "表单定义不是合法的 JSON：第 1 行" in post(admin(app), "/console/items/new", form)


def test_publishing_needs_a_deployed_process(runtime: Runtime, app: Flask) -> None:
    client = admin(app)
    post(client, "/console/items/new", form_of(NEW, process_id="not_yet_drawn"))
    page = post(client, "/console/items/housing-help/publish", {})
    assert "不能发布：流程“not_yet_drawn”尚未部署" in page
    assert item(runtime, "housing-help").state is ItemState.DRAFT


def test_a_case_keeps_the_form_it_was_submitted_with(runtime: Runtime, app: Flask) -> None:
    before = submit(runtime)
    subsidy = item(runtime, ITEM)
    schema = json.loads(json.dumps(subsidy.form_schema))
    schema["properties"]["income_band"]["title"] = "家庭经济状况"
    schema["properties"]["note"] = {"type": "string", "title": "备注", "maxLength": 500}
    page = post(admin(app), f"/console/items/{ITEM}", form_of(ItemFields.of(subsidy), form_schema=schema))
    assert "新的申请使用第 2 版表单" in page and 'id="form-versions"' in page
    with runtime.db.transaction() as session:
        after = case_service.submit_case(session, runtime.engine, load_actor(session, OFFICER), ITEM, DEMO_APPLICANT,
                                         {**FORM, "note": "独居"}).number  # fmt: skip
    with runtime.db.sessions() as session:
        versions = {c.number: c.form_version.version for c in session.scalars(select(Case)) if c.form_version}
    assert versions == {before: 1, after: 2}
    officer = app.test_client()
    sign_in(officer, OFFICER)
    old_page = officer.get(f"/console/cases/{before}").get_data(as_text=True)
    new_page = officer.get(f"/console/cases/{after}").get_data(as_text=True)
    assert "家庭收入类别" in old_page and "家庭经济状况" not in old_page
    assert "家庭经济状况" in new_page and "独居" in new_page
    edit = admin(app).get(f"/console/items/{ITEM}").get_data(as_text=True)
    assert 'id="form-preview"' in edit and "item_form.js" in edit
