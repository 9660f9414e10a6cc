"""What every request of /api/v1 shares: credentials, problem+json for every error, the factory."""

from __future__ import annotations

import json

import pytest
from api_support import Api, Snapshot, basic
from flask import Flask
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from sqlalchemy import text
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from huiju.app.web import create_app
from huiju.runtime import Runtime


def test_no_credentials_is_401_with_a_challenge(api: Api) -> None:
    for method, path in (("GET", "/api/v1/items"), ("GET", "/api/v1/cases"), ("GET", "/api/v1/tasks")):
        response = api.call(method, path, expect=401, check_request=False)
        assert response.headers["WWW-Authenticate"] == 'Basic realm="huiju"'
        problem = response.get_json()
        assert problem["title"] == "unauthenticated"
        assert problem["detail"] == "this API needs HTTP Basic credentials (user name and password)"


def test_wrong_credentials_are_401_and_write_nothing(api: Api, snapshot: Snapshot) -> None:
    before = snapshot()
    body = {"item": "ELDERLY_CARE_SUBSIDY", "applicant": "110105193801012340", "data": {}}
    for headers in (
        basic("zhang", "wrong password"),
        basic("nobody"),
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic not-base64!"},
    ):
        response = api.post("/api/v1/cases", headers=headers, json=body, expect=401, check_request=False)
        assert response.headers["WWW-Authenticate"] == 'Basic realm="huiju"'
        assert "password" in response.get_json()["detail"] or "credentials" in response.get_json()["detail"]
    assert snapshot() == before


def test_an_inactive_account_is_refused(api: Api, runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        session.execute(text("UPDATE huiju_user SET active = 0 WHERE username = 'officer_wang'"))
    problem = api.get("/api/v1/tasks", user="officer_wang", expect=401, check_request=False).get_json()
    assert problem["detail"] == "wrong user name or password"


def test_unknown_paths_and_methods_answer_problem_json(api: Api) -> None:
    problem = api.get("/api/v1/no-such-thing", user="zhang", expect=404, in_spec=False).get_json()
    assert problem["title"] == "not-found"
    response = api.call("DELETE", "/api/v1/items", user="zhang", expect=405, in_spec=False)
    assert response.get_json()["title"] == "method-not-allowed"
    assert "GET" in response.headers["Allow"]


def test_outside_the_api_flask_errors_stay_as_they_are(app: Flask) -> None:
    response = app.test_client().get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_an_unexpected_error_is_a_500_problem_without_internals(api: Api, runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        session.execute(text("DROP TABLE item"))
    problem = api.get("/api/v1/items", user="zhang", expect=500).get_json()
    assert problem == {
        "type": "https://huiju.example/problems/internal",
        "title": "internal",
        "status": 500,
        "detail": "an unexpected error occurred; it has been logged",
    }


def test_healthz(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["failing"]) == ("ok", [])
    assert body["parts"]["database"] == {"ok": True}


def test_the_factory_keeps_the_runtime_and_the_secret(runtime: Runtime) -> None:
    app = create_app(runtime, {"TESTING": True})
    assert app.extensions["huiju"] is runtime
    assert app.config["SECRET_KEY"] == runtime.settings.secret_key
    assert app.testing
    assert "api.submit_case" in app.view_functions


def test_the_document_refuses_fields_it_does_not_describe(api: Api, openapi: OpenAPI) -> None:
    """The response checks of these tests have teeth: an undescribed field fails them."""
    response = api.get("/api/v1/items", user="zhang", expect=200)
    body = response.get_json()
    body["items"][0]["secret"] = "x"
    tampered = Response(json.dumps(body), status=200, mimetype="application/json")
    request = EnvironBuilder(path="/api/v1/items", headers=basic("zhang")).get_request()
    with pytest.raises(OpenAPIError):
        openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(tampered))
