"""Bad input on the administrators' and integrators' pages is refused in words, on the page it came
from, and changes nothing: a file that is no certificate, a revocation list for minus one day, an
endpoint that is no URL, a form schema the portal cannot show, a year out of any calendar, a diagram
that is not a JSON object. The words name settings, roles and offices as the pages do, never by code."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from console_support import csrf, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.config import AdapterConfig
from certs.store import init_dev_pki
from huiju.app.web import create_app
from huiju.models import User
from huiju.runtime import Runtime


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime, {"TESTING": True})


def flashed(client: FlaskClient, path: str) -> str:
    """The page a refused form went back to, as text (its alerts included)."""
    body = client.get(path).get_data(as_text=True)
    return html.unescape(re.sub(r"<[^>]+>|\s+", " ", body))


def test_certificates_refused_in_words(runtime: Runtime, app: Flask) -> None:
    init_dev_pki(runtime.settings.resolved_certs_folder)
    client = app.test_client()
    sign_in(client, "integrator")
    token = csrf(client, "/console/certificates/")
    junk = {"csrf_token": token, "kind": "ca", "member": "partner-a", "file": (io.BytesIO(b"hello"), "x.pem")}
    reply = client.post("/console/certificates/upload", data=junk, content_type="multipart/form-data")
    assert reply.status_code == 303
    assert "不是 PEM 或 DER 格式的 X.509 证书" in flashed(client, "/console/certificates/")
    reply = client.post("/console/certificates/crl", data={"csrf_token": token, "days": "-1"})
    assert reply.status_code == 303 and "-1" in flashed(client, "/console/certificates/")
    reply = client.post("/console/certificates/upload", data={"csrf_token": token, "kind": "ca", "member": "p"},
                        content_type="multipart/form-data")  # fmt: skip
    assert reply.status_code == 303 and "请选择要上传的文件" in flashed(client, "/console/certificates/")


@pytest.mark.parametrize("endpoint", ["https://[::1", "https://h:99999/", "https://h:abc/"])
def test_an_endpoint_that_is_no_url_is_refused(runtime: Runtime, app: Flask, endpoint: str) -> None:
    client = app.test_client()
    sign_in(client, "integrator")
    with runtime.db.sessions() as session:
        before = session.scalars(select(AdapterConfig.endpoint).where(AdapterConfig.system == "sms")).one()
    reply = client.post("/console/adapters/sms", data={"csrf_token": csrf(client, "/console/adapters/sms"),
                                                       "endpoint": endpoint, "enabled": "1"})  # fmt: skip
    assert reply.status_code == 303
    assert f"接口地址 '{endpoint}' 不是 http 或 https 地址" in flashed(client, "/console/adapters/sms")
    with runtime.db.sessions() as session:
        assert session.scalars(select(AdapterConfig.endpoint).where(AdapterConfig.system == "sms")).one() == before


def test_a_setting_out_of_range_is_named_as_the_form_names_it(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "integrator")
    data = {"csrf_token": csrf(client, "/console/adapters/sms"), "endpoint": "https://127.0.0.1:9/sms",
            "connect_timeout": "abc"}  # fmt: skip
    assert client.post("/console/adapters/sms", data=data).status_code == 303
    page = flashed(client, "/console/adapters/sms")
    assert "连接超时（秒）" in page and "connect_timeout 须" not in page


def test_an_item_schema_the_portal_cannot_show_is_refused(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "admin")
    token = csrf(client, "/console/items/new")
    item = {"csrf_token": token, "code": "t-x", "name": "测试", "name_en": "T", "kind": "public_service",
            "responsible_level": "community", "theme": "other", "committed_limit": "5", "statutory_limit": "10",
            "limit_unit": "working_days", "supplement_wait": "P30D", "process_id": "community_approval"}  # fmt: skip
    for field in ({"type": ["string", "null"], "title": "A"}, {"enum": [1, None], "title": "A"},
                  {"enum": [], "title": "A"}):  # fmt: skip
        schema = json.dumps({"type": "object", "properties": {"a": field}})
        reply = client.post("/console/items/new", data={**item, "form_schema": schema})
        assert reply.status_code in (303, 400), (field, reply.status_code)
    reply = client.post("/console/items/new", data={**item, "kind": "zzz", "form_schema": "{}"})
    assert reply.status_code in (303, 400)


def test_a_year_out_of_any_calendar_and_a_diagram_that_is_not_an_object(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "admin")
    for year in ("10000", "-1", "1999"):
        reply = client.get(f"/console/calendar/?year={year}")
        assert reply.status_code == 400 and "2000" in reply.get_data(as_text=True), year
    token = csrf(client, "/console/processes/")
    reply = client.post("/console/processes/modeler/check", json=[1, 2], headers={"X-CSRFToken": token})
    assert reply.status_code == 400


def test_offices_and_roles_are_named_in_words(runtime: Runtime, app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "admin")
    data = {"csrf_token": csrf(client, "/console/users/"), "username": "newoff3", "role": "street_reviewer",
            "display_name": "新同事", "office": "110105001001"}  # fmt: skip
    reply = client.post("/console/users/", data=data)
    assert reply.status_code == 303
    page = flashed(client, "/console/users/")
    assert "street_reviewer" not in page and "community 级" not in page and "街道" in page
    with runtime.db.sessions() as session:
        assert session.scalars(select(User).where(User.username == "newoff3")).one_or_none() is None


def test_a_diagram_the_bpmn_schema_refuses_is_named_in_words_in_the_pages_language(app: Flask) -> None:
    """The modeler's check answers with what the BPMN 2.0 schema refuses as words naming the element,
    its attribute and line, never as the checker's English or its {namespace}element notation."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">\n'
        '  <bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>\n'
        "</bpmn:definitions>"
    )
    client = app.test_client()
    sign_in(client, "admin")
    said = {}
    for lang in ("zh", "en"):
        client.get(f"/console/lang/{lang}")
        token = csrf(client, "/console/processes/")
        reply = client.post("/console/processes/modeler/check", json={"xml": xml}, headers={"X-CSRFToken": token})
        assert reply.status_code == 200, reply.get_data(as_text=True)
        findings = reply.get_json()["findings"]
        assert [f["element"] for f in findings] == ["d"]
        said[lang] = findings[0]["text"]
    assert said["en"].endswith(
        ": definitions 'd' (line 2) lacks the attribute targetNamespace, which BPMN 2.0 requires"
    )
    assert said["zh"].endswith("：definitions“d”（第2行）缺少 BPMN 2.0 要求的属性 targetNamespace")
