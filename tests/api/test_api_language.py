"""The language of answers: Accept-Language picks Chinese (the default) or English for problem details,
Content-Language says which, and codes stay codes whatever the language."""

from __future__ import annotations

import pytest
from api_support import Api


@pytest.mark.parametrize("accept", [None, "zh-CN", "zh", "zh-Hans-CN,zh;q=0.9", "fr-FR, de;q=0.5"])
def test_chinese_by_default_and_for_chinese_tags(api: Api, accept: str | None) -> None:
    response = api.get("/api/v1/items/NO_SUCH_ITEM", user="zhang", expect=404, headers={"Accept-Language": accept})
    assert response.headers["Content-Language"] == "zh-CN"
    assert "Accept-Language" in response.headers["Vary"]
    assert response.get_json()["detail"] == "未知事项“NO_SUCH_ITEM”"
    assert response.get_json()["title"] == "not-found"


@pytest.mark.parametrize("accept", ["en", "en-US;q=0.9, zh;q=0.8", "zh;q=0.2, en-GB"])
def test_english_when_it_ranks_first(api: Api, accept: str) -> None:
    response = api.get("/api/v1/items/NO_SUCH_ITEM", user="zhang", expect=404, headers={"Accept-Language": accept})
    assert response.headers["Content-Language"] == "en"
    assert response.get_json()["detail"] == "unknown item 'NO_SUCH_ITEM'"


def test_details_with_parameters_and_nested_texts_are_translated(api: Api) -> None:
    zh = {"Accept-Language": "zh-CN"}
    body = {"item": "ELDERLY_CARE_SUBSIDY", "applicant": 42, "data": {}}
    problem = api.post("/api/v1/cases", user="zhang", json=body, expect=400, check_request=False, headers=zh)
    assert problem.get_json()["detail"] == "字段“applicant”必须是字符串，不能是整数"
    problem = api.get("/api/v1/cases?limit=0", user="zhang", expect=400, check_request=False, headers=zh)
    assert problem.get_json()["detail"] == "查询参数“limit”必须在1到500之间"


def test_authentication_and_routing_problems_are_translated(api: Api) -> None:
    unauthenticated = api.get("/api/v1/items", expect=401, check_request=False, headers={"Accept-Language": None})
    assert unauthenticated.get_json()["detail"] == "本接口需要 HTTP Basic 凭据（用户名和密码）"
    assert unauthenticated.headers["Content-Language"] == "zh-CN"
    unknown = api.get(
        "/api/v1/no-such-thing", user="zhang", expect=404, in_spec=False, headers={"Accept-Language": None}
    )
    assert unknown.get_json()["detail"] == "本接口没有该资源"
    assert unknown.headers["Content-Language"] == "zh-CN"


def test_success_answers_say_their_language_and_keep_codes(api: Api) -> None:
    items = api.get("/api/v1/items", user="zhang", expect=200, headers={"Accept-Language": None})
    assert items.headers["Content-Language"] == "zh-CN"
    cases = api.get("/api/v1/cases", user="officer_wang", expect=200, headers={"Accept-Language": "zh-CN"})
    statuses = {c["status"] for c in cases.get_json()["cases"]}
    assert statuses <= {"submitted", "verifying", "intake", "awaiting_supplement", "street_review", "processing",
                        "incident", "concluded"}  # fmt: skip
    document = api.get("/api/v1/openapi.yaml", expect=200, headers={"Accept-Language": "zh-CN"})
    assert document.headers["Content-Language"] == "en"
