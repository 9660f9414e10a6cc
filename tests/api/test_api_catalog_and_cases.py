"""Items and cases through /api/v1: reading, submitting, and every refused submission."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

import yaml
from api_support import APPLICANT_ID, GOOD_FORM, ITEM_CODE, OTHER_RESIDENT_ID, Api, Snapshot
from openapi_spec_validator import validate

from huiju.runtime import Runtime
from tests.support.canned import deliver_replies


def submit(api: Api, user: str = "zhang", **overrides: Any) -> dict[str, Any]:
    body = {"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": GOOD_FORM, **overrides}
    return api.post("/api/v1/cases", user=user, json=body, expect=201).get_json()


def test_the_document_is_valid_openapi_and_served_without_credentials(api: Api) -> None:
    shipped = resources.files("huiju.api").joinpath("openapi.yaml").read_text(encoding="utf-8")
    validate(yaml.safe_load(shipped))
    response = api.get("/api/v1/openapi.yaml", expect=200)
    assert response.mimetype == "application/yaml"
    assert response.get_data(as_text=True) == shipped


def test_list_and_get_items(api: Api) -> None:
    items = api.get("/api/v1/items", user="zhang", expect=200).get_json()["items"]
    assert [i["code"] for i in items] == [ITEM_CODE]
    item = items[0]
    assert item["process_id"] == "elderly_care_subsidy"
    assert item["limit_unit"] == "working_days"
    assert item["form_schema"]["required"] == ["income_band", "disability", "living_alone"]
    assert api.get(f"/api/v1/items/{ITEM_CODE}", user="officer_wang", expect=200).get_json() == item


def test_unknown_item_is_404(api: Api) -> None:
    problem = api.get("/api/v1/items/NO_SUCH_ITEM", user="zhang", expect=404).get_json()
    assert problem["title"] == "not-found"
    assert "NO_SUCH_ITEM" in problem["detail"]


def test_submit_then_read_the_case(api: Api, runtime: Runtime) -> None:
    response = api.post(
        "/api/v1/cases", user="zhang", json={"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": GOOD_FORM},
        expect=201,
    )  # fmt: skip
    case = response.get_json()
    assert response.headers["Location"] == f"/api/v1/cases/{case['number']}"
    assert case["item"] == ITEM_CODE and case["item_name"] == "居家养老服务补贴"
    assert case["applicant"] == APPLICANT_ID and case["applicant_name"] == "张桂兰"
    assert case["community"] == {"code": "110105001001", "name": "永安里社区"}
    assert case["status"] == "submitted"  # only the receipt SMS (受理回执) is out yet
    assert case["outcome"] is None and case["concluded_at"] is None
    assert case["form_data"] == GOOD_FORM and case["submitted_by"] == "zhang"
    assert datetime.fromisoformat(case["submitted_at"]).utcoffset() is not None

    detail = api.get(response.headers["Location"], user="zhang", expect=200).get_json()
    assert {k: detail[k] for k in case} == {**case, "updated_at": detail["updated_at"]}
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:2] == ["submitted", "process_started"]
    assert "service_requested" in kinds
    requested = [e for e in detail["timeline"] if e["kind"] == "service_requested"]
    assert [(e["system"], e["step"]) for e in requested] == [("sms", "sms_received")]
    assert all(datetime.fromisoformat(e["at"]).utcoffset() is not None for e in detail["timeline"])
    assert detail["tasks"] == []

    listed = api.get("/api/v1/cases", user="officer_wang", expect=200).get_json()
    assert [c["number"] for c in listed["cases"]] == [case["number"]]
    assert (listed["limit"], listed["offset"]) == (100, 0)

    # Once the receipt SMS is settled, the citizen registry is asked: the case is being verified.
    assert deliver_replies(runtime, operations={"sms.send_sms"}) == ["sms.send_sms"]
    detail = api.get(response.headers["Location"], user="zhang", expect=200).get_json()
    assert detail["status"] == "verifying"  # waiting for the citizen registry
    requested = [e for e in detail["timeline"] if e["kind"] == "service_requested"]
    assert [(e["system"], e["step"]) for e in requested] == [
        ("sms", "sms_received"),
        ("citizen_info", "verify_identity"),
    ]


def test_an_officer_applies_for_a_resident_of_their_community(api: Api) -> None:
    case = submit(api, user="officer_wang")
    assert case["submitted_by"] == "officer_wang"
    assert case["applicant"] == APPLICANT_ID


def test_who_sees_which_case_and_the_id_number(api: Api) -> None:
    number = submit(api)["number"]
    assert api.get(f"/api/v1/cases/{number}", user="reviewer_li", expect=200).get_json()["applicant"] == APPLICANT_ID
    assert api.get(f"/api/v1/cases/{number}", user="admin", expect=200).get_json()["applicant"] == APPLICANT_ID
    masked = api.get(f"/api/v1/cases/{number}", user="integrator", expect=200).get_json()["applicant"]
    assert masked == "110105********2340"
    # Another resident and another community's officer do not learn that the case exists.
    api.get(f"/api/v1/cases/{number}", user="li_resident", expect=404)
    api.get(f"/api/v1/cases/{number}", user="officer_zhao", expect=404)
    assert api.get("/api/v1/cases", user="officer_zhao", expect=200).get_json()["cases"] == []
    assert api.get("/api/v1/cases", user="li_resident", expect=200).get_json()["cases"] == []


def test_list_cases_filters_and_pages(api: Api, runtime: Runtime) -> None:
    first, second = submit(api)["number"], submit(api)["number"]
    assert [c["number"] for c in api.get("/api/v1/cases", user="zhang", expect=200).get_json()["cases"]] == [
        second,
        first,
    ]
    page = api.get("/api/v1/cases?limit=1&offset=1", user="zhang", expect=200).get_json()
    assert [c["number"] for c in page["cases"]] == [first]
    assert api.get("/api/v1/cases?status=concluded", user="zhang", expect=200).get_json()["cases"] == []
    assert len(api.get("/api/v1/cases?status=submitted", user="zhang", expect=200).get_json()["cases"]) == 2
    assert api.get("/api/v1/cases?status=verifying", user="zhang", expect=200).get_json()["cases"] == []
    deliver_replies(runtime, operations={"sms.send_sms"})  # the receipt SMS settled: identity checks go out
    assert api.get("/api/v1/cases?status=submitted", user="zhang", expect=200).get_json()["cases"] == []
    assert len(api.get("/api/v1/cases?status=verifying", user="zhang", expect=200).get_json()["cases"]) == 2


def test_list_cases_refuses_bad_query_parameters(api: Api) -> None:
    problem = api.get("/api/v1/cases?status=lost", user="zhang", expect=400, check_request=False).get_json()
    assert problem["detail"] == "unknown case status 'lost'"
    problem = api.get("/api/v1/cases?limit=ten", user="zhang", expect=400, check_request=False).get_json()
    assert problem["detail"] == "query parameter 'limit' must be a whole number, not 'ten'"
    problem = api.get("/api/v1/cases?limit=501", user="zhang", expect=400, check_request=False).get_json()
    assert problem["detail"] == "query parameter 'limit' must be at least 1 and at most 500"
    api.get("/api/v1/cases?offset=-1", user="zhang", expect=400, check_request=False)


# -- refused submissions: a clear problem, and nothing written ------------------------------------------


def refused(api: Api, snapshot: Snapshot, expect: int, *, user: str = "zhang", **kwargs: Any) -> dict[str, Any]:
    before = snapshot()
    problem = api.post("/api/v1/cases", user=user, expect=expect, check_request=False, **kwargs).get_json()
    assert snapshot() == before
    return problem


def test_unknown_item_refused(api: Api, snapshot: Snapshot) -> None:
    problem = refused(api, snapshot, 404, json={"item": "NO_SUCH_ITEM", "applicant": APPLICANT_ID, "data": GOOD_FORM})
    assert problem["detail"] == "unknown item 'NO_SUCH_ITEM'"
    # An unknown item is said first, whatever else is wrong.
    problem = refused(
        api, snapshot, 404, json={"item": "NO_SUCH_ITEM", "applicant": "11010519380101", "data": GOOD_FORM}
    )
    assert problem["detail"] == "unknown item 'NO_SUCH_ITEM'"


def test_invalid_id_number_refused_with_the_reason(api: Api, snapshot: Snapshot) -> None:
    wrong_check_digit = APPLICANT_ID[:-1] + "1"
    problem = refused(api, snapshot, 400, json={"item": ITEM_CODE, "applicant": wrong_check_digit, "data": GOOD_FORM})
    assert problem["title"] == "invalid-input"
    assert problem["detail"] == (
        "the check digit (18th character) is 1, but the first 17 digits give 0; a digit is probably mistyped"
    )
    assert problem["errors"] == {"field": "id_number", "reason": "checksum"}
    assert wrong_check_digit not in json.dumps(problem)
    problem = refused(api, snapshot, 400, json={"item": ITEM_CODE, "applicant": "11010519380101", "data": GOOD_FORM})
    assert problem["detail"] == "an ID number has 18 characters, this one has 14"


def test_unregistered_applicant_refused(api: Api, snapshot: Snapshot) -> None:
    problem = refused(
        api, snapshot, 404, user="admin", json={"item": ITEM_CODE, "applicant": "110101199003070011", "data": GOOD_FORM}
    )
    assert problem["detail"] == "no resident registered with ID number 110101********0011"


def test_form_data_failing_the_schema_refused_with_the_field(api: Api, snapshot: Snapshot) -> None:
    data = {**GOOD_FORM, "income_band": "wealthy"}
    problem = refused(api, snapshot, 422, json={"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": data})
    assert problem["title"] == "invalid-form-data"
    # In words that name the field (by its title; this test item's fields have none but their name)
    assert problem["detail"] == "the form is not filled in as it should be: Choose one of the options for income_band."
    assert set(problem["errors"]) == {"income_band"}
    missing = {"income_band": "subsistence", "living_alone": False}
    problem = refused(api, snapshot, 422, json={"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": missing})
    assert problem["errors"] == {"(form)": "'disability' is a required property"}


def test_applying_for_someone_else_refused(api: Api, snapshot: Snapshot) -> None:
    body = {"item": ITEM_CODE, "applicant": OTHER_RESIDENT_ID, "data": GOOD_FORM}
    assert refused(api, snapshot, 403, json=body)["detail"] == "a resident may apply only for themselves"
    body = {"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": GOOD_FORM}
    problem = refused(api, snapshot, 403, user="officer_zhao", json=body)
    assert problem["detail"] == "the applicant lives in another community"


def test_a_body_that_is_not_json_refused(api: Api, snapshot: Snapshot) -> None:
    problem = refused(api, snapshot, 415, data="item=ELDERLY_CARE_SUBSIDY", content_type="text/plain")
    assert problem["detail"] == "the request body must be JSON (Content-Type: application/json), not text/plain"
    problem = refused(api, snapshot, 415, data="item=x")
    assert problem["detail"].endswith("not none")
    problem = refused(api, snapshot, 400, data='{"item": ', content_type="application/json")
    assert problem["detail"].startswith("the request body is not valid JSON: Expecting value (line 1, column")
    problem = refused(api, snapshot, 400, data=b"\xff\xfe", content_type="application/json")
    assert problem["detail"] == "the request body is not UTF-8 text"


def test_a_body_of_the_wrong_shape_refused(api: Api, snapshot: Snapshot) -> None:
    problem = refused(api, snapshot, 400, json=[ITEM_CODE, APPLICANT_ID])
    assert problem["detail"] == "the request body must be a JSON object, not an array"
    problem = refused(api, snapshot, 400, json={"item": ITEM_CODE, "data": GOOD_FORM})
    assert problem["detail"] == "missing field 'applicant'"
    assert problem["errors"] == {"field": "applicant"}
    problem = refused(api, snapshot, 400, json={"item": ITEM_CODE, "applicant": 110105193801012340, "data": GOOD_FORM})
    assert problem["detail"] == "field 'applicant' must be a string, not an integer"
    problem = refused(api, snapshot, 400, json={"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": "x"})
    assert problem["detail"] == "field 'data' must be an object, not a string"
    body = {"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": GOOD_FORM, "status": "concluded"}
    problem = refused(api, snapshot, 400, json=body)
    assert problem["detail"] == "unknown field 'status'; the fields are: item, applicant, data"


def test_a_body_too_large_refused(api: Api, snapshot: Snapshot) -> None:
    data = {**GOOD_FORM, "note": "x" * (300 * 1024)}
    problem = refused(api, snapshot, 413, json={"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": data})
    assert problem["title"] == "body-too-large"
    assert "at most 262144" in problem["detail"]
