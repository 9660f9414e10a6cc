"""The shapes of the API: request bodies checked on the way in, rows turned into JSON on the way out.

Only the *shape* is checked here (a JSON object, the right keys, the right types); what the values
mean (an item that exists, a valid ID number, form data that fits the item's schema, a decision the
step offers) is the service layer's business.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from huiju import idnumber
from huiju.api.errors import BodyTooLarge, UnsupportedMediaType
from huiju.db import INT_MAX
from huiju.errors import InputError
from huiju.i18n import Message, _
from huiju.models import Case, CaseEvent, Document, Item, Role
from huiju.services.actors import Actor
from huiju.services.decisions import Opinion, opinion_chain
from huiju.services.documents import documents_of
from workflows_bpmn.models import HumanTask
from workflows_bpmn.step_names import StepNames, step_names

#: Request bodies are small JSON documents; uploads have their own endpoints and limits.
MAX_BODY_BYTES = 256 * 1024
MAX_LIMIT = 500


# -- in -------------------------------------------------------------------------------------------


def json_body(allowed: Mapping[str, type | tuple[type, ...]], required: tuple[str, ...]) -> dict[str, Any]:
    """The request body as a JSON object with only ``allowed`` keys, of the given types."""
    mimetype = request.mimetype
    if not (mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))):
        shown = mimetype or "none"
        raise UnsupportedMediaType(
            _("the request body must be JSON (Content-Type: application/json), not {mimetype}", mimetype=shown)
        )
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise BodyTooLarge(
            _("the request body has {size} bytes; at most {limit} are accepted", size=length, limit=MAX_BODY_BYTES)
        )
    request.max_content_length = MAX_BODY_BYTES
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise BodyTooLarge(_("the request body is larger than {limit} bytes", limit=MAX_BODY_BYTES)) from exc
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(_("the request body is not UTF-8 text")) from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            _(
                "the request body is not valid JSON: {error} (line {line}, column {column})",
                error=exc.msg,
                line=exc.lineno,
                column=exc.colno,
            )
        ) from exc
    if not isinstance(body, dict):
        raise InputError(_("the request body must be a JSON object, not {kind}", kind=_json_type(body)))
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InputError(
            _("unknown field '{field}'; the fields are: {fields}", field=unknown[0], fields=", ".join(allowed)),
            field=unknown[0],
        )
    for name in required:
        if name not in body or body[name] is None:
            raise InputError(_("missing field '{field}'", field=name), field=name)
    for name, value in body.items():
        expected = allowed[name]
        if not isinstance(value, expected) or isinstance(value, bool) and bool not in _as_tuple(expected):
            wanted = _one_of([_type_name(t) for t in _as_tuple(expected)])
            raise InputError(
                _("field '{field}' must be {wanted}, not {kind}", field=name, wanted=wanted, kind=_json_type(value)),
                field=name,
            )
    return body


def query_int(name: str, default: int, *, minimum: int, maximum: int = INT_MAX) -> int:
    """A whole-number query parameter from ``minimum`` to ``maximum`` (at most a database INTEGER)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InputError(
            _("query parameter '{parameter}' must be a whole number, not '{value}'", parameter=name, value=raw),
            parameter=name,
        ) from exc
    if not minimum <= value <= maximum:
        text = _("query parameter '{parameter}' must be at least {minimum} and at most {maximum}", parameter=name,
                 minimum=minimum, maximum=maximum)  # fmt: skip
        raise InputError(text, parameter=name)
    return value


def query_date(name: str) -> date | None:
    """A day given as ``YYYY-MM-DD`` (ISO 8601), or None when the parameter is absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InputError(
            _("query parameter '{parameter}' must be a day as YYYY-MM-DD, not '{value}'", parameter=name, value=raw),
            parameter=name,
        ) from exc


def query_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise InputError(
            _("query parameter '{parameter}' must be one of: {choices}", parameter=name, choices=", ".join(choices)),
            parameter=name,
        )
    return raw


_JSON_NAMES: dict[type, Message] = {
    str: _("a string"),
    dict: _("an object"),
    list: _("an array"),
    int: _("an integer"),
    float: _("a number"),
    bool: _("a boolean"),
}


def _as_tuple(expected: type | tuple[type, ...]) -> tuple[type, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def _type_name(kind: type) -> Message | str:
    return _JSON_NAMES.get(kind, kind.__name__)


def _one_of(names: list[Message | str]) -> Message | str:
    """'a string or an object': the alternatives joined, each translated."""
    text = names[0]
    for other in names[1:]:
        text = _("{first} or {second}", first=text, second=other)
    return text


def _json_type(value: Any) -> Message | str:
    if value is None:
        return "null"
    return _type_name(type(value))


# -- out ------------------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with its offset (the database gives back aware datetimes in UTC)."""
    return moment.isoformat() if moment is not None else None


def item_json(item: Item) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "name_en": item.name_en,
        "kind": item.kind.value,
        "responsible_level": item.responsible_level.value,
        "statutory_limit": item.statutory_limit,
        "committed_limit": item.committed_limit,
        "limit_unit": item.limit_unit.value,
        "required_materials": item.required_materials,
        "form_schema": item.form_schema,
        "process_id": item.process_id,
    }


def sees_full_id_number(actor: Actor, case: Case) -> bool:
    """Officers need the number to do their work; a resident sees their own; anyone else a mask."""
    if actor.is_officer or actor.role is Role.ADMINISTRATOR:
        return True
    return actor.resident_id is not None and actor.resident_id == case.applicant_id


def case_json(case: Case, actor: Actor) -> dict[str, Any]:
    id_number = case.applicant.id_number
    return {
        "number": case.number,
        "item": case.item.code,
        "item_name": case.item.name,
        "applicant": id_number if sees_full_id_number(actor, case) else idnumber.mask(id_number),
        "applicant_name": case.applicant.name,
        "community": {"code": case.community.code, "name": case.community.name},
        "status": case.status.value,
        "outcome": case.outcome,
        "form_data": case.form_data,
        "submitted_by": case.submitted_by,
        "submitted_at": iso(case.submitted_at),
        "updated_at": iso(case.updated_at),
        "concluded_at": iso(case.concluded_at),
    }


def timeline_entry_json(event: CaseEvent, steps: StepNames) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "kind": event.kind,
        "step": event.step,
        "step_name": event.step_name,
        "step_name_en": steps.of(event.step_name, "en") or None,
        "actor": event.actor,
        "system": event.system,
        "detail": event.detail,
    }


def task_json(task: HumanTask, case_number: str | None, steps: StepNames) -> dict[str, Any]:
    return {
        "id": task.id,
        "case": case_number,
        "step": task.step,
        "name": task.name,
        "name_en": steps.of(task.name, "en"),
        "role": task.role,
        "status": task.status.value,
        "decisions": list(task.decisions),
        "assignee": task.assignee,
        "created_at": iso(task.created_at),
        "due_at": iso(task.due_at),
        "completed_at": iso(task.completed_at),
        "completed_by": task.completed_by,
        "decision": task.decision,
    }


def case_detail_json(session: Session, case: Case, actor: Actor) -> dict[str, Any]:
    """A case with its timeline, the human tasks of its process, its opinions and its documents, oldest first."""
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.case_id == case.id).order_by(HumanTask.created_at, HumanTask.id)
    )
    # A resident reads the opinions addressed to them (the reason for a refusal, what a 补正 asks for);
    # officers, reviewers and administrators the whole chain.
    to_resident = actor.role is Role.RESIDENT
    steps = step_names(session)
    return {
        **case_json(case, actor),
        "timeline": [timeline_entry_json(e, steps) for e in case.events],
        "tasks": [task_json(t, case.number, steps) for t in tasks],
        "opinions": [opinion_json(o, steps) for o in opinion_chain(session, case, for_applicant=to_resident)],
        "documents": [document_json(d) for d in documents_of(session, case)],
    }


def opinion_json(opinion: Opinion, steps: StepNames) -> dict[str, Any]:
    """One link of the chain of opinions (审批意见): who decided what, at which step, and why."""
    return {
        "at": iso(opinion.at),
        "step_name": opinion.step_name,
        "step_name_en": steps.of(opinion.step_name, "en"),
        "decision": opinion.decision,
        "text": opinion.text,
        "who": opinion.who or None,
        "office": opinion.office or None,
        "role": opinion.role,
        "to_applicant": opinion.to_applicant,
        "missing_materials": list(opinion.missing),
    }


def document_json(document: Document) -> dict[str, Any]:
    """A written document (文书) of the case: what it is, its number, when and by whom it was signed."""
    return {
        "kind": document.kind,
        "number": document.number,
        "issued_at": iso(document.issued_at),
        "signed_by": document.signed_by or None,
        "sha256": document.sha256,
        "size": document.size,
    }


def case_numbers(session: Session, tasks: list[HumanTask]) -> dict[int, str]:
    """Case id → case number for a page of tasks, in one query."""
    ids = {t.case_id for t in tasks if t.case_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(Case.id, Case.number).where(Case.id.in_(ids))).all()
    return {case_id: number for case_id, number in rows}
