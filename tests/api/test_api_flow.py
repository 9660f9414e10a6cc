"""A case through the whole process by the API alone, and every refused task completion."""

from __future__ import annotations

from typing import Any

from api_support import APPLICANT_ID, GOOD_FORM, ITEM_CODE, Api, Calls, Snapshot


def start_case(api: Api, deliver: Calls) -> str:
    body = {"item": ITEM_CODE, "applicant": APPLICANT_ID, "data": GOOD_FORM}
    case = api.post("/api/v1/cases", user="zhang", json=body, expect=201).get_json()
    number: str = case["number"]
    assert case["status"] == "submitted"  # only the receipt SMS (受理回执) is out yet
    assert deliver() == ["sms.send_sms", "citizen_info.verify_identity", "citizen_info.query_person"]
    return number


def only_task(api: Api, user: str, step: str) -> dict[str, Any]:
    tasks = api.get("/api/v1/tasks", user=user, expect=200).get_json()["tasks"]
    assert [t["step"] for t in tasks] == [step]
    return tasks[0]


def complete(api: Api, user: str, task_id: str, decision: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"decision": decision}
    if data is not None:
        body["data"] = data
    return api.post(f"/api/v1/tasks/{task_id}/complete", user=user, json=body, expect=200).get_json()


def case_of(api: Api, number: str, user: str = "zhang") -> dict[str, Any]:
    return api.get(f"/api/v1/cases/{number}", user=user, expect=200).get_json()


def test_happy_path_accept_approve_concluded(api: Api, deliver: Calls) -> None:
    number = start_case(api, deliver)
    assert case_of(api, number)["status"] == "intake"

    intake = only_task(api, "officer_wang", "intake")
    assert intake["case"] == number and intake["role"] == "community_officer"
    assert intake["decisions"] == ["accept", "refuse", "supplement"]
    assert api.get(f"/api/v1/tasks/{intake['id']}", user="officer_wang", expect=200).get_json() == intake
    assert api.get("/api/v1/tasks", user="reviewer_li", expect=200).get_json()["tasks"] == []

    done = complete(api, "officer_wang", intake["id"], "accept")
    assert done["task"]["status"] == "completed" and done["task"]["decision"] == "accept"
    assert done["task"]["completed_by"] == "officer_wang"
    assert done["case"] == {"number": number, "status": "street_review", "outcome": None}
    assert api.get("/api/v1/tasks", user="officer_wang", expect=200).get_json()["tasks"] == []

    review = only_task(api, "reviewer_li", "street_review")
    done = complete(api, "reviewer_li", review["id"], "approve")
    assert done["case"]["status"] == "processing"  # reporting to the e-gov platform
    assert deliver() == ["egov.submit_case", "sms.send_sms", "data_exchange.publish_record"]

    case = case_of(api, number)
    assert case["status"] == "concluded" and case["outcome"] == "approved"
    assert case["concluded_at"] is not None
    assert [(t["step"], t["status"], t["decision"], t["completed_by"]) for t in case["tasks"]] == [
        ("intake", "completed", "accept", "officer_wang"),
        ("street_review", "completed", "approve", "reviewer_li"),
    ]
    kinds = [e["kind"] for e in case["timeline"]]
    assert kinds[0] == "submitted" and kinds[-1] == "process_completed"
    assert case["timeline"][-1]["detail"] == "approved"
    completed = [(e["step"], e["actor"], e["detail"]) for e in case["timeline"] if e["kind"] == "task_completed"]
    assert completed == [("intake", "officer_wang", "accept"), ("street_review", "reviewer_li", "approve")]
    systems = {e["system"] for e in case["timeline"] if e["kind"] == "service_replied"}
    assert systems == {"citizen_info", "egov_approval", "sms", "data_exchange"}
    listed = api.get("/api/v1/cases?status=concluded", user="officer_wang", expect=200).get_json()["cases"]
    assert [c["number"] for c in listed] == [number]
    # The chain of opinions (审批意见): who decided what, from which office, and why.
    chain = case_of(api, number, user="officer_wang")["opinions"]
    assert [(o["decision"], o["role"], o["to_applicant"]) for o in chain] == [
        ("accept", "community_officer", False),
        ("approve", "street_reviewer", False),
        ("approve", "egov_approval", False),
    ]
    assert all(o["text"] for o in chain[:2]) and chain[0]["who"] and chain[0]["office"]
    assert chain[2]["who"] is None  # the extranet decided: no person of ours
    assert case["opinions"] == []  # the applicant reads the ones addressed to them: none here


def test_supplement_path(api: Api, deliver: Calls) -> None:
    number = start_case(api, deliver)
    intake = only_task(api, "officer_wang", "intake")
    done = complete(api, "officer_wang", intake["id"], "supplement", {"missing_materials": ["户口簿复印件"]})
    assert done["case"]["status"] == "processing"  # the SMS asking for the material
    assert deliver() == ["sms.send_sms"]
    assert case_of(api, number)["status"] == "awaiting_supplement"

    # The supplement is the applicant's task: in their inbox, in nobody else's.
    supplement = only_task(api, "zhang", "supplement")
    assert supplement["role"] == "resident" and supplement["decisions"] == ["submit"]
    assert api.get("/api/v1/tasks", user="li_resident", expect=200).get_json()["tasks"] == []
    api.get(f"/api/v1/tasks/{supplement['id']}", user="officer_wang", expect=404)

    done = complete(api, "zhang", supplement["id"], "submit", {"materials": ["hukou_copy.pdf"]})
    assert done["case"]["status"] == "intake"
    second_intake = only_task(api, "officer_wang", "intake")
    assert second_intake["id"] != intake["id"]
    complete(api, "officer_wang", second_intake["id"], "accept")
    complete(api, "reviewer_li", only_task(api, "reviewer_li", "street_review")["id"], "approve")
    deliver()

    case = case_of(api, number, user="officer_wang")
    assert (case["status"], case["outcome"]) == ("concluded", "approved")
    assert [t["step"] for t in case["tasks"]] == ["intake", "supplement", "intake", "street_review"]


def test_an_incident_is_retried_through_the_api(api: Api, deliver: Calls, fail: Calls, snapshot: Snapshot) -> None:
    number = start_case(api, deliver)
    intake = only_task(api, "officer_wang", "intake")
    complete(api, "officer_wang", intake["id"], "refuse", {"reason": "户籍不在本社区"})
    # The refusal SMS fails for good and nothing in the model catches it: the case is in incident.
    [dead] = fail()
    assert case_of(api, number)["status"] == "incident"

    before = snapshot()
    api.post(f"/api/v1/cases/{number}/retry", user="zhang", expect=403)
    api.post(f"/api/v1/cases/{number}/retry", user="officer_zhao", expect=404)
    assert snapshot() == before

    assert api.post(f"/api/v1/cases/{number}/retry", user="officer_wang", expect=200).get_json() == {"messages": [dead]}
    assert case_of(api, number)["status"] == "processing"
    assert deliver() == ["sms.send_sms"]
    case = case_of(api, number)
    assert (case["status"], case["outcome"]) == ("concluded", "refused")
    assert [e["kind"] for e in case["timeline"]].count("incident_retried") == 1
    # The applicant reads the reason of the refusal among the opinions addressed to them.
    assert [(o["decision"], o["text"], o["to_applicant"]) for o in case["opinions"]] == [
        ("refuse", "户籍不在本社区", True)
    ]

    before = snapshot()
    problem = api.post(f"/api/v1/cases/{number}/retry", user="officer_wang", expect=409).get_json()
    assert problem["title"] == "conflict" and "is not held up by a system fault" in problem["detail"]
    assert snapshot() == before


# -- refused completions: a clear problem, and nothing written --------------------------------------------


def refused(api: Api, snapshot: Snapshot, task_id: str, user: str, expect: int, **kwargs: Any) -> dict[str, Any]:
    before = snapshot()
    problem = api.post(
        f"/api/v1/tasks/{task_id}/complete", user=user, expect=expect, check_request=False, **kwargs
    ).get_json()
    assert snapshot() == before
    return problem


def test_refused_completions_change_nothing(api: Api, deliver: Calls, snapshot: Snapshot) -> None:
    start_case(api, deliver)
    task_id = only_task(api, "officer_wang", "intake")["id"]

    # Another community's officer, the applicant and a reviewer cannot even see the task.
    for user in ("officer_zhao", "zhang", "reviewer_li"):
        problem = refused(api, snapshot, task_id, user, 404, json={"decision": "accept"})
        assert problem["detail"] == f"no task {task_id}"
    api.get(f"/api/v1/tasks/{task_id}", user="officer_zhao", expect=404)
    problem = refused(api, snapshot, task_id, "admin", 403, json={"decision": "accept"})
    assert problem["detail"] == "administrators and integrators do not decide cases"

    problem = refused(api, snapshot, task_id, "officer_wang", 400, json={"decision": "approve"})
    assert problem["detail"] == (
        "'approve' is not a decision of step '社区受理'; choose one of: accept, refuse, supplement"
    )
    problem = refused(api, snapshot, task_id, "officer_wang", 400, json={"decision": "refuse", "data": {}})
    assert problem["detail"] == "decision 'refuse' needs 'reason'"
    assert problem["errors"] == {"field": "reason"}
    body = {"decision": "supplement", "data": {"missing_materials": "户口簿"}}
    problem = refused(api, snapshot, task_id, "officer_wang", 400, json=body)
    assert problem["detail"] == "'missing_materials' must be a list of strings"
    problem = refused(api, snapshot, task_id, "officer_wang", 400, json={"decision": "accept", "data": {"by": "x"}})
    assert problem["detail"] == "'by' is set by Huiju, not by the form"
    problem = refused(api, snapshot, task_id, "officer_wang", 400, json={"data": {}})
    assert problem["detail"] == "missing field 'decision'"
    problem = refused(api, snapshot, task_id, "officer_wang", 400, json={"decision": "accept", "data": []})
    assert problem["detail"] == "field 'data' must be an object, not an array"
    problem = refused(api, snapshot, task_id, "officer_wang", 415, data="decision=accept")
    assert problem["title"] == "unsupported-media-type"
    problem = refused(api, snapshot, task_id, "officer_wang", 400, data="accept", content_type="application/json")
    assert problem["detail"].startswith("the request body is not valid JSON")
    problem = refused(api, snapshot, "no-such-task", "officer_wang", 404, json={"decision": "accept"})
    assert problem["detail"] == "no task no-such-task"

    complete(api, "officer_wang", task_id, "accept")
    problem = refused(api, snapshot, task_id, "officer_wang", 409, json={"decision": "accept"})
    assert problem["title"] == "conflict"
    assert problem["detail"] == f"task {task_id} is already completed by officer_wang"
