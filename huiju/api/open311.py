"""The Open311 GeoReport v2 endpoints (JSON), for a hotline seat, a kiosk or a city app.

::

    GET  /open311/discovery.json
    GET  /open311/v2/services.json                  the service list (报修, 投诉, 咨询)
    GET  /open311/v2/services/{service_code}.json   a service's definition (its attributes)
    GET  /open311/v2/requests.json                  requests: service_request_id, service_code,
                                                    start_date, end_date, status
    POST /open311/v2/requests.json                  file a request (form-encoded; api_key required)
    GET  /open311/v2/requests/{id}.json             one request

Field names and the error format are the specification's: an error is a JSON array of
``{"code": <HTTP status>, "description": ...}`` with that HTTP status. Texts are in the language of
``Accept-Language`` (Chinese by default). Only the JSON format is served.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, json, request, url_for
from flask.typing import ResponseReturnValue

from huiju.api.language import mark_language, request_locale
from huiju.errors import HuijuError, InputError, NotFoundError
from huiju.i18n import _
from huiju.services import open311
from huiju.web.problems import http_status
from huiju.web.runtime import runtime

bp = Blueprint("open311", __name__)
FORMAT = "json"
_ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_]{1,64})\]$")
MAX_FORM_BYTES = 64 * 1024


def _json(body: Any, status: int = 200) -> Response:
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status,
                                          mimetype="application/json")  # fmt: skip
    return mark_language(response)


def _error(status: int, description: str) -> Response:
    return _json([{"code": status, "description": description}], status)


@bp.errorhandler(HuijuError)
def huiju_error(exc: HuijuError) -> Response:
    return _error(http_status(exc), exc.localized(request_locale()))


def _check_format(fmt: str) -> None:
    if fmt != FORMAT:
        raise InputError(_("format {format} is not served here; use .json", format=fmt))
    jurisdiction = request.values.get("jurisdiction_id")
    if jurisdiction and jurisdiction not in current_app.config.get("OPEN311_JURISDICTIONS", ("huiju",)):
        raise NotFoundError(_("jurisdiction_id {id} was not found", id=jurisdiction))


def _moment(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(_("{field} must be a W3C date-time such as 2026-11-01T00:00:00+08:00", field=name)) from exc
    if moment.tzinfo is None:
        raise InputError(_("{field} must carry a time zone", field=name))
    if not _EARLIEST <= moment.replace(tzinfo=None) <= _LATEST:  # the wall time: no overflow shifting it
        raise InputError(_("{field} must fall between the years {first} and {last}", field=name,
                           first=_EARLIEST.year, last=_LATEST.year))  # fmt: skip
    return moment


#: The times a query of requests may name (any older or later names none, and would overflow the
#: arithmetic of the default window).
_EARLIEST, _LATEST = datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)


@bp.get("/discovery.json")
def discovery() -> ResponseReturnValue:
    return _json({
        "changeset": "2026-12-01T00:00:00Z", "contact": "社区服务中心 / community service centre",
        "key_service": "huiju open311 key add NAME",
        "endpoints": [{"specification": open311.SPECIFICATION, "url": url_for("open311.services", fmt=FORMAT,
                                                                              _external=True).rsplit("/", 1)[0],
                       "changeset": "2026-12-01T00:00:00Z", "type": "production", "formats": ["application/json"]}],
    })  # fmt: skip


@bp.get("/v2/services.<fmt>")
def services(fmt: str) -> ResponseReturnValue:
    _check_format(fmt)
    with runtime().db.sessions() as session:
        return _json(open311.services(session, request_locale()))


@bp.get("/v2/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> ResponseReturnValue:
    _check_format(fmt)
    with runtime().db.sessions() as session:
        return _json(open311.definition(session, code, request_locale()))


@bp.get("/v2/requests.<fmt>")
def requests_list(fmt: str) -> ResponseReturnValue:
    _check_format(fmt)
    ids = [i.strip() for i in (request.args.get("service_request_id") or "").split(",") if i.strip()]
    locale = request_locale()
    with runtime().db.sessions() as session:
        found = open311.list_requests(
            session, ids=ids or None, service_code=request.args.get("service_code") or None,
            start=_moment("start_date"), end=_moment("end_date"), status=request.args.get("status") or None,
        )  # fmt: skip
        return _json([open311.request_json(case, locale) for case in found])


@bp.post("/v2/requests.<fmt>")
def requests_file(fmt: str) -> ResponseReturnValue:
    _check_format(fmt)
    if (request.content_length or 0) > MAX_FORM_BYTES:
        raise InputError(_("the request is larger than {limit} bytes", limit=MAX_FORM_BYTES))
    values = request.form
    attributes: dict[str, str] = {}
    for key in values:
        match = _ATTRIBUTE.match(key)
        if match:
            attributes[match.group(1)] = values[key]
    if not values.get("service_code"):
        raise InputError(_("service_code is required"), field="service_code")
    filing = open311.Filing(
        service_code=values["service_code"], description=values.get("description", ""), lat=values.get("lat", ""),
        long=values.get("long", ""), address_string=values.get("address_string", ""),
        address_id=values.get("address_id", ""), phone=values.get("phone", ""),
        first_name=values.get("first_name", ""), last_name=values.get("last_name", ""), attributes=attributes,
    )  # fmt: skip
    rt = runtime()
    with rt.db.transaction() as session:
        client = open311.client_for_key(session, values.get("api_key"))
        case = open311.file_request(session, rt.engine, client, filing)
        notice = _("an SMS confirms the request; the community answers by {date}",
                   date=case.committed_due.isoformat() if case.committed_due else "-")  # fmt: skip
        body = [{"service_request_id": case.number, "service_notice": notice.localize(request_locale()),
                 "account_id": None}]  # fmt: skip
    return _json(body, 201)


@bp.get("/v2/requests/<request_id>.<fmt>")
def request_one(request_id: str, fmt: str) -> ResponseReturnValue:
    _check_format(fmt)
    with runtime().db.sessions() as session:
        return _json([open311.request_json(open311.get_request(session, request_id), request_locale())])


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(unknown: str) -> ResponseReturnValue:
    return _error(404, _("there is no such resource in this API").localize(request_locale()))
