"""The providers' JSON API (/api/v1/o2o): the verbs of the provider pages, every answer checked against
openapi.yaml; a provider sees only its own orders, a family member only the linked parent's."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
import yaml
from flask import Flask
from o2o_support import OPERATOR, SON, link_son, order, place
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder, TestResponse

from huiju.app.seed import DEMO_PASSWORD
from huiju.app.web import create_app
from huiju.db import utcnow
from huiju.models import OrderStatus
from huiju.runtime import Runtime
from tests.support import files
from tests.support.canned import deliver_replies

PNG = files.PNG  # a real picture: uploads are parsed


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    text = resources.files("huiju.api").joinpath("openapi.yaml").read_text(encoding="utf-8")
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(yaml.safe_load(text), config=config)


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime, {"TESTING": True})


def call(app: Flask, openapi: OpenAPI, method: str, path: str, user: str, expect: int, **kwargs: Any) -> TestResponse:
    token = base64.b64encode(f"{user}:{DEMO_PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Accept-Language": "en"}
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    assert response.status_code == expect, (user, method, path, response.status_code, response.get_data(as_text=True))
    request = EnvironBuilder(path=path, method=method, headers=headers, **kwargs).get_request()
    openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
    return response


def test_a_provider_takes_an_order_through_the_api(runtime: Runtime, app: Flask, openapi: OpenAPI) -> None:
    link_son(runtime)
    number = place(runtime, "YY-MEAL")
    deliver_replies(runtime)
    listed = call(app, openapi, "GET", "/api/v1/o2o/orders", "provider-yiyang", 200).get_json()["orders"]
    assert [o["number"] for o in listed] == [number] and listed[0]["offer_due_at"]
    assert listed[0]["total_fen"] == 1500 and listed[0]["credit_fen"] == 1500
    for other in ("provider-leshan", "provider-wuye"):  # offered to YIYANG only, for now
        assert call(app, openapi, "GET", "/api/v1/o2o/orders", other, 200).get_json()["orders"] == []
        call(app, openapi, "GET", f"/api/v1/o2o/orders/{number}", other, 404)
        call(app, openapi, "POST", f"/api/v1/o2o/orders/{number}/accept", other, 404)
    problem = call(app, openapi, "POST", f"/api/v1/o2o/orders/{number}/decline", "provider-yiyang", 400,
                   json={"reason": "  "}).get_json()  # fmt: skip
    assert problem["errors"]["field"] == "reason"
    body = call(app, openapi, "POST", f"/api/v1/o2o/orders/{number}/accept", "provider-yiyang", 200).get_json()
    assert body["status"] == "accepted"
    call(app, openapi, "POST", f"/api/v1/o2o/orders/{number}/accept", "provider-yiyang", 409)
    deliver_replies(runtime)
    assert call(app, openapi, "POST", f"/api/v1/o2o/orders/{number}/arrive", "provider-yiyang", 200).get_json()[
        "status"] == "on_the_way"  # fmt: skip
    deliver_replies(runtime)
    photo = {"filename": "done.png", "data": base64.b64encode(PNG).decode()}
    body = call(app, openapi, "POST", f"/api/v1/o2o/orders/{number}/done", "provider-yiyang", 200,
                json={"note": "已送达", "photo": photo}).get_json()  # fmt: skip
    assert body["status"] == "done" and body["done_note"] == "已送达"
    assert order(runtime, number).done_photo_id is not None
    # The son reads his mother's order; the operator reads every order; another resident nothing.
    assert call(app, openapi, "GET", f"/api/v1/o2o/orders/{number}", SON, 200).get_json()["status"] == "done"
    assert number in json.dumps(call(app, openapi, "GET", "/api/v1/o2o/orders", OPERATOR, 200).get_json())
    call(app, openapi, "GET", f"/api/v1/o2o/orders/{number}", "resident-zhang", 200)  # the mother herself
    assert order(runtime, number).status is OrderStatus.DONE


def test_a_provider_keeps_its_services_prices_and_slots(runtime: Runtime, app: Flask, openapi: OpenAPI) -> None:
    listed = call(app, openapi, "GET", "/api/v1/o2o/services", "provider-leshan", 200).get_json()
    assert [s["code"] for s in listed["services"]] == ["LS-MEAL"] and listed["slots"]
    body = call(app, openapi, "POST", "/api/v1/o2o/services/LS-MEAL/price", "provider-leshan", 200,
                json={"price_fen": 1600}).get_json()  # fmt: skip
    assert body["price_fen"] == 1600
    call(app, openapi, "POST", "/api/v1/o2o/services/LS-MEAL/price", "provider-leshan", 400, json={"price_fen": 0})
    call(app, openapi, "POST", "/api/v1/o2o/services/YY-MEAL/price", "provider-leshan", 404, json={"price_fen": 1})
    start = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    added = call(app, openapi, "POST", "/api/v1/o2o/services/LS-MEAL/slots", "provider-leshan", 201,
                 json={"starts": [start.isoformat()], "capacity": 20}).get_json()["slots"]  # fmt: skip
    assert len(added) == 1 and added[0]["capacity"] == 20
    call(app, openapi, "GET", "/api/v1/o2o/services", SON, 403)


def test_numbers_and_times_out_of_range_are_refused_in_words(runtime: Runtime, app: Flask, openapi: OpenAPI) -> None:
    """An offset no table reaches and a slot in the year 9999: a problem that says what is wrong, never
    an overflow."""
    reply = call(app, openapi, "GET", f"/api/v1/o2o/orders?offset={'9' * 23}", "provider-yiyang", 400).get_json()
    assert "offset" in reply["detail"] and str(2**31 - 1) in reply["detail"]
    far = {"starts": ["9999-12-31T23:30:00+08:00"]}
    reply = call(app, openapi, "POST", "/api/v1/o2o/services/YY-MEAL/slots", "provider-yiyang", 400, json=far)
    assert "a year ahead" in reply.get_json()["detail"]


def test_slots_are_opened_at_most_a_year_ahead(runtime: Runtime) -> None:
    """As the provider's page asks for them: a first day in the year 9999 is refused in words."""
    from huiju.errors import InputError
    from huiju.services.actors import load_actor
    from huiju.services.o2o import catalog

    with runtime.db.transaction() as session, pytest.raises(InputError, match="a year ahead"):
        catalog.add_daily_slots(session, load_actor(session, "provider-yiyang"), "YY-MEAL", first_day="9999-12-31",
                                days="1", times="23:50", capacity="1")  # fmt: skip
