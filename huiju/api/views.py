"""The routes of ``/api/v1``: each validates the shape of its input, calls one service function (in a
read-only session to read, in a transaction to change something), and serialises what it got back."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from flask import Blueprint, Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from huiju.api.auth import current_actor, login_required
from huiju.api.schemas import (
    MAX_LIMIT,
    case_detail_json,
    case_json,
    case_numbers,
    item_json,
    json_body,
    query_choice,
    query_date,
    query_int,
    task_json,
)
from huiju.errors import NotFoundError
from huiju.i18n import _
from huiju.models import Case, Role
from huiju.services import audit, worklist
from huiju.services import cases as case_service
from huiju.services import tasks as task_service
from huiju.services.actors import Actor
from huiju.web.runtime import runtime
from workflows_bpmn.models import HumanTask
from workflows_bpmn.step_names import step_names


def openapi_document() -> Response:
    text = resources.files("huiju.api").joinpath("openapi.yaml").read_bytes()
    # The document is written in English, whatever the caller asked for.
    return current_app.response_class(text, mimetype="application/yaml", headers={"Content-Language": "en"})


@login_required
def list_items() -> ResponseReturnValue:
    with runtime().db.sessions() as session:
        body = {"items": [item_json(i) for i in case_service.list_items(session)]}
    return body


@login_required
def get_item(code: str) -> ResponseReturnValue:
    with runtime().db.sessions() as session:
        body = item_json(case_service.get_item(session, code))
    return body


@login_required
def submit_case() -> ResponseReturnValue:
    actor = current_actor()
    body = json_body({"item": str, "applicant": str, "data": dict}, required=("item", "applicant", "data"))
    rt = runtime()
    with rt.db.transaction() as session:
        case = case_service.submit_case(session, rt.engine, actor, body["item"], body["applicant"], body["data"])
        result = case_json(case, actor)
    return result, 201, {"Location": url_for(".get_case", number=result["number"])}


@login_required
def list_cases() -> ResponseReturnValue:
    actor = current_actor()
    status = request.args.get("status") or None
    limit = query_int("limit", 100, minimum=1, maximum=MAX_LIMIT)
    offset = query_int("offset", 0, minimum=0)
    with runtime().db.sessions() as session:
        found = case_service.list_cases(session, actor, status=status, limit=limit, offset=offset)
        body = {"cases": [case_json(c, actor) for c in found], "limit": limit, "offset": offset}
    return body


@login_required
def get_case(number: str) -> ResponseReturnValue:
    actor = current_actor()
    with runtime().db.sessions() as session:
        case = case_service.get_case(session, actor, number)
        body = case_detail_json(session, case, actor)
        applicant = case.applicant_id
    if actor.role is not Role.RESIDENT:  # an officer's read of a resident's personal data
        audit.record_read(runtime().db, actor, "case.read", target_kind="case", target=number, case_number=number,
                          resident_id=applicant)  # fmt: skip
    return body


@login_required
def retry_case(number: str) -> ResponseReturnValue:
    actor = current_actor()
    rt = runtime()
    with rt.db.transaction() as session:
        messages = case_service.retry_incident(session, rt.engine, actor, number)
    return {"messages": messages}


@login_required
def list_tasks() -> ResponseReturnValue:
    actor = current_actor()
    filters = worklist.InboxFilter(
        item=request.args.get("item") or None,
        status=request.args.get("status") or None,
        applicant=request.args.get("applicant") or None,
        due_before=query_date("due_before"),
        sort=request.args.get("sort") or "due",
        descending=query_choice("order", ("asc", "desc"), "asc") == "desc",
        after=request.args.get("after") or None,
        before=request.args.get("before") or None,
        limit=query_int("limit", worklist.PAGE_SIZE, minimum=1, maximum=worklist.MAX_PAGE_SIZE),
    )
    with runtime().db.sessions() as session:
        page = worklist.inbox_page(session, actor, filters)
        steps = step_names(session)
        body = {
            "tasks": [task_json(r.task, r.case.number if r.case else None, steps) for r in page.rows],
            "total": page.total,
            "total_capped": page.total_capped,
            "next": page.next,
            "previous": page.previous,
        }
    return body


@login_required
def get_task(task_id: str) -> ResponseReturnValue:
    actor = current_actor()
    with runtime().db.sessions() as session:
        task = task_service.get_task(session, actor, task_id)
        body = _task_reply(session, task)
    return body


@login_required
def complete_task(task_id: str) -> ResponseReturnValue:
    actor = current_actor()
    body = json_body({"decision": str, "data": dict}, required=("decision",))
    rt = runtime()
    with rt.db.transaction() as session:
        result = task_service.complete_task(session, rt.engine, actor, task_id, body["decision"], body.get("data", {}))
        task = session.get(HumanTask, task_id)
        case_id = result.instance.context.get("case_id")
        case = session.get(Case, case_id) if case_id is not None else None
        if task is None or case is None:
            raise NotFoundError(_("task {task_id} has no case", task_id=task_id))
        reply = {
            "task": task_json(task, case.number, step_names(session)),
            "case": {"number": case.number, "status": case.status.value, "outcome": case.outcome},
        }
    return reply


def _task_reply(session: Session, task: HumanTask) -> dict[str, object]:
    return task_json(task, case_numbers(session, [task]).get(task.case_id or -1), step_names(session))


@login_required
def claim_task(task_id: str) -> ResponseReturnValue:
    return _take(task_service.claim_task, task_id)


@login_required
def release_task(task_id: str) -> ResponseReturnValue:
    return _take(task_service.release_task, task_id)


def _take(action: Callable[[Session, Actor, str], HumanTask], task_id: str) -> dict[str, object]:
    """Claim or release a task for the signed-in officer; the task as it is afterwards."""
    actor = current_actor()
    with runtime().db.transaction() as session:
        return _task_reply(session, action(session, actor, task_id))


@login_required
def transfer_task(task_id: str) -> ResponseReturnValue:
    actor = current_actor()
    body = json_body({"to": str, "reason": str}, required=("to", "reason"))
    with runtime().db.transaction() as session:
        task = task_service.transfer_task(session, actor, task_id, body["to"], body["reason"])
        reply = _task_reply(session, task)
    return reply


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/openapi.yaml", view_func=openapi_document, methods=["GET"])
    bp.add_url_rule("/items", view_func=list_items, methods=["GET"])
    bp.add_url_rule("/items/<code>", view_func=get_item, methods=["GET"])
    bp.add_url_rule("/cases", view_func=list_cases, methods=["GET"])
    bp.add_url_rule("/cases", view_func=submit_case, methods=["POST"])
    bp.add_url_rule("/cases/<number>", view_func=get_case, methods=["GET"])
    bp.add_url_rule("/cases/<number>/retry", view_func=retry_case, methods=["POST"])
    bp.add_url_rule("/tasks", view_func=list_tasks, methods=["GET"])
    bp.add_url_rule("/tasks/<task_id>", view_func=get_task, methods=["GET"])
    bp.add_url_rule("/tasks/<task_id>/complete", view_func=complete_task, methods=["POST"])
    bp.add_url_rule("/tasks/<task_id>/claim", view_func=claim_task, methods=["POST"])
    bp.add_url_rule("/tasks/<task_id>/release", view_func=release_task, methods=["POST"])
    bp.add_url_rule("/tasks/<task_id>/transfer", view_func=transfer_task, methods=["POST"])
