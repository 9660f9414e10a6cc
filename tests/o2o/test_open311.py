"""Open311 GeoReport v2: the field names of the specification, its error format, an API key to file,
no personal data when reading."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from huiju.app.web import create_app
from huiju.models import Case, Resident
from huiju.runtime import Runtime
from huiju.services import open311
from huiju.services.actors import load_actor
from tests.support.canned import deliver_replies

MOTHER_ID = "110105193801012340"
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime", "address",
    "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    app: Flask = create_app(runtime, {"TESTING": True})
    return app.test_client()


@pytest.fixture
def key(runtime: Runtime) -> str:
    with runtime.db.transaction() as session:
        _client, key = open311.add_client(session, load_actor(session, "integrator"), "hotline-12345")
    return key


def mother_phone(runtime: Runtime) -> str:
    with runtime.db.sessions() as session:
        return str(session.scalars(select(Resident.phone).where(Resident.id_number == MOTHER_ID)).one())


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status and body[0]["description"]
    return str(body[0]["description"])


def test_services_and_their_definitions(client: FlaskClient) -> None:
    services = client.get("/open311/v2/services.json").get_json()
    assert [s["service_code"] for s in services] == ["complaint", "consultation", "repair-request"]
    assert set(services[0]) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    repair = next(s for s in services if s["service_code"] == "repair-request")
    assert repair["service_name"] == "报修" and repair["metadata"] is True and repair["type"] == "realtime"
    english = client.get("/open311/v2/services.json", headers={"Accept-Language": "en"}).get_json()
    assert next(s for s in english if s["service_code"] == "repair-request")["service_name"] != "报修"
    definition = client.get("/open311/v2/services/repair-request.json").get_json()
    assert definition["service_code"] == "repair-request"
    (category,) = definition["attributes"]
    assert set(category) == {"variable", "code", "datatype", "required", "datatype_description", "order",
                             "description", "values"}  # fmt: skip
    assert category["code"] == "category" and category["datatype"] == "singlevaluelist" and category["required"]
    assert {"key": "lift", "name": "电梯"} in category["values"]
    error(client.get("/open311/v2/services/no-such-service.json"), 404)
    error(client.get("/open311/v2/services.xml"), 400)
    error(client.get("/open311/v2/nothing-here.json"), 404)
    error(client.get("/open311/v2/services.json?jurisdiction_id=elsewhere.example"), 404)


def test_a_hotline_files_a_request_and_anyone_follows_it(runtime: Runtime, client: FlaskClient, key: str) -> None:
    form = {"service_code": "repair-request", "attribute[category]": "lift", "description": "3号楼电梯停在两层之间",
            "address_string": "望京西园四区3号楼", "phone": mother_phone(runtime)}  # fmt: skip
    assert "api_key" in error(client.post("/open311/v2/requests.json", data=form), 403)
    assert "api_key" in error(client.post("/open311/v2/requests.json", data={**form, "api_key": "wrong"}), 403)
    created = client.post("/open311/v2/requests.json", data={**form, "api_key": key})
    assert created.status_code == 201, created.get_data(as_text=True)
    (answer,) = created.get_json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    number = answer["service_request_id"]
    deliver_replies(runtime)
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.applicant.id_number == MOTHER_ID and case.submitted_by == "open311:hotline-12345"
        assert case.form_data == {"description": "3号楼电梯停在两层之间", "location": "望京西园四区3号楼",
                                  "category": "lift", "contact_phone": mother_phone(runtime)}  # fmt: skip
    (one,) = client.get(f"/open311/v2/requests/{number}.json").get_json()
    assert set(one) == REQUEST_FIELDS
    assert one["status"] == "open" and one["service_code"] == "repair-request" and one["expected_datetime"]
    assert one["address"] == "望京西园四区3号楼" and one["agency_responsible"] == "望京西园社区"
    text = str(one)
    assert "张秀英" not in text and mother_phone(runtime) not in text and MOTHER_ID not in text
    listed = client.get("/open311/v2/requests.json?service_code=repair-request&status=open").get_json()
    assert number in [r["service_request_id"] for r in listed]
    assert client.get("/open311/v2/requests.json?status=closed").get_json() == []
    assert [r["service_request_id"] for r in client.get(
        f"/open311/v2/requests.json?service_request_id={number}").get_json()] == [number]  # fmt: skip
    error(client.get("/open311/v2/requests/HJ2099010100001.json"), 404)
    error(client.get("/open311/v2/requests.json?start_date=yesterday"), 400)


def test_filing_refuses_what_it_cannot_route(runtime: Runtime, client: FlaskClient, key: str) -> None:
    base = {"api_key": key, "service_code": "repair-request", "attribute[category]": "lift",
            "description": "楼道灯不亮了好几天", "address_string": "望京西园四区3号楼"}  # fmt: skip
    with runtime.db.sessions() as session:
        before = session.query(Case).count()
    english = {"Accept-Language": "en"}
    assert "phone" in error(client.post("/open311/v2/requests.json", data={**base, "phone": "13000000000"},
                                        headers=english), 400)  # fmt: skip
    no_place = {k: v for k, v in base.items() if k != "address_string"}
    assert "位置" in error(client.post("/open311/v2/requests.json", data={**no_place, "phone": mother_phone(runtime)}),
                         400)  # fmt: skip
    error(client.post("/open311/v2/requests.json", data={**base, "service_code": "nope", "phone": "1"}), 404)
    error(client.post("/open311/v2/requests.json", data={**base, "phone": mother_phone(runtime),
                                                         "attribute[colour]": "red"}), 400)  # fmt: skip
    said = error(client.post("/open311/v2/requests.json", data={**base, "phone": mother_phone(runtime),
                                                                "attribute[category]": "volcano"}), 422)  # fmt: skip
    assert "is not one of" not in said and "volcano" not in said  # in words that name the field, in Chinese
    no_category = {k: v for k, v in base.items() if k != "attribute[category]"}
    said = error(client.post("/open311/v2/requests.json", data={**no_category, "phone": mother_phone(runtime)}), 422)
    assert "required property" not in said and "(form)" not in said
    by_id = {**base, "attribute[id_number]": MOTHER_ID, "last_name": "张", "first_name": "秀英"}
    assert client.post("/open311/v2/requests.json", data=by_id).status_code == 201
    wrong_name = {**by_id, "first_name": "小英"}
    error(client.post("/open311/v2/requests.json", data=wrong_name), 400)
    with runtime.db.sessions() as session:
        assert session.query(Case).count() == before + 1


@pytest.mark.parametrize(
    "query",
    ["end_date=0001-01-01T00:00:00%2B00:00", "start_date=9999-12-31T23:59:59-12:00",
     "end_date=9999-12-31T23:59:59-12:00"],
)  # fmt: skip
def test_dates_out_of_any_range_are_refused_in_the_georeport_form(client: FlaskClient, query: str) -> None:
    assert "2000" in error(client.get(f"/open311/v2/requests.json?{query}"), 400)
