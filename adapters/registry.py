"""The adapter operations a BPMN service task may name, found by name, never by Python path.

Each :class:`OperationSpec` says which system and SOAP operation it calls, which parameters it
takes (checked by :func:`validate_params` before anything leaves the building, ID numbers with
their GB 11643 check digit), how those parameters become the SOAP request and how zeep's reply
becomes a JSON-safe dict that the engine can store in a process instance.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from stdnum.cn import ric

from huiju.errors import InputError
from huiju.i18n import Message, _

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    types: tuple[type, ...]
    required: bool = True


@dataclass(frozen=True, slots=True)
class OperationSpec:
    name: str
    system: str
    soap_operation: str
    params: tuple[ParamSpec, ...]
    to_request: Callable[[Mapping[str, Any]], Json]
    from_reply: Callable[[Json], Json]
    # The SMS contract repeats the exchange message id in its Body (the platform's own dedup key).
    body_message_id: bool = False

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


# --- conversions -------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_ID_PARAMS = frozenset({"id_number", "applicant_id_number"})


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def jsonable(value: Any) -> Any:
    """Dates as ISO strings, Decimal as str (never float: amounts), camelCase keys to snake_case."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {_snake(str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _pairs(values: Mapping[str, Any], item: str) -> Json:
    """A dict as the contracts' name/value sequences (``<param>``/``<field>`` elements)."""
    return {item: [{"name": k, "value": _text(v)} for k, v in values.items()]}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unpairs(items: list[Json] | None) -> dict[str, str]:
    return {str(i["name"]): str(i["value"]) for i in items or []}


def _plain(params: Mapping[str, Any]) -> Json:
    return {_camel(k): v for k, v in params.items()}


def _submit_case_request(params: Mapping[str, Any]) -> Json:
    request = _plain(params)
    decided_at = params["decided_at"]
    if isinstance(decided_at, str):
        decided_at = datetime.fromisoformat(decided_at)
    request["decidedAt"] = decided_at
    return request


def _publish_request(params: Mapping[str, Any]) -> Json:
    return {"dataset": params["dataset"], "record": _pairs(params["record"], "field")}


def _query_records_request(params: Mapping[str, Any]) -> Json:
    return {"dataset": params["dataset"], "filter": _pairs(params["filter"], "field")}


def _sms_request(params: Mapping[str, Any]) -> Json:
    return {
        "phone": params["phone"],
        "template": params["template"],
        "params": _pairs(params["params"], "param"),
    }


def _person_reply(reply: Json) -> Json:
    out = jsonable({k: v for k, v in reply.items() if k != "household"})
    out["household"] = jsonable((reply.get("household") or {}).get("member") or [])
    return out


def _records_reply(reply: Json) -> Json:
    records = [{"record_id": r["recordId"], "fields": _unpairs(r.get("field"))} for r in reply.get("record") or []]
    return {"records": records}


# --- the operations ----------------------------------------------------------------------------

_S = (str,)


def _p(name: str, types: tuple[type, ...] = _S, required: bool = True) -> ParamSpec:
    return ParamSpec(name, types, required)


OPERATIONS: dict[str, OperationSpec] = {
    spec.name: spec
    for spec in (
        OperationSpec(
            "citizen_info.verify_identity",
            "citizen_info",
            "VerifyIdentity",
            (_p("id_number"), _p("name")),
            _plain,
            jsonable,
        ),
        OperationSpec(
            "citizen_info.query_person",
            "citizen_info",
            "QueryPerson",
            (_p("id_number"),),
            _plain,
            _person_reply,
        ),
        OperationSpec(
            "sms.send_sms",
            "sms",
            "SendSms",
            (_p("phone"), _p("template"), _p("params", (dict,))),
            _sms_request,
            jsonable,
            body_message_id=True,
        ),
        OperationSpec(
            "sms.query_delivery",
            "sms",
            "QueryDelivery",
            (_p("sms_id"),),
            _plain,
            jsonable,
        ),
        OperationSpec(
            "egov.submit_case",
            "egov_approval",
            "SubmitCase",
            (
                _p("case_number"),
                _p("item_code"),
                _p("applicant_id_number"),
                _p("applicant_name"),
                _p("decision"),
                _p("decided_by"),
                _p("decided_at", (datetime, str)),
                _p("summary"),
            ),
            _submit_case_request,
            jsonable,
        ),
        OperationSpec(
            "egov.query_case",
            "egov_approval",
            "QueryCase",
            (_p("receipt_number"),),
            _plain,
            jsonable,
        ),
        OperationSpec(
            "data_exchange.publish_record",
            "data_exchange",
            "PublishRecord",
            (_p("dataset"), _p("record", (dict,))),
            _publish_request,
            jsonable,
        ),
        OperationSpec(
            "payment.create_payment",
            "payment",
            "CreatePayment",
            (_p("order_number"), _p("amount_fen", (int,)), _p("description"), _p("payer_phone")),
            _plain,
            jsonable,
        ),
        OperationSpec(
            "payment.query_payment",
            "payment",
            "QueryPayment",
            (_p("payment_id"),),
            _plain,
            jsonable,
        ),
        OperationSpec(
            "payment.refund",
            "payment",
            "Refund",
            (_p("payment_id"), _p("amount_fen", (int,)), _p("reason")),
            _plain,
            jsonable,
        ),
        OperationSpec(
            "data_exchange.query_records",
            "data_exchange",
            "QueryRecords",
            (_p("dataset"), _p("filter", (dict,))),
            _query_records_request,
            _records_reply,
        ),
    )
}


def is_known(name: str) -> bool:
    return name in OPERATIONS


def get_operation(name: str) -> OperationSpec:
    try:
        return OPERATIONS[name]
    except KeyError:
        raise InputError(_("unknown adapter operation {operation}", operation=repr(name)), operation=name) from None


def validate_params(name: str, params: Mapping[str, Any]) -> OperationSpec:
    """Refuse a call whose parameters cannot be right, with a message naming the parameter.

    Checked here rather than by the remote system so that a wrong BPMN service task fails at
    once, as a permanent error, and an invalid ID number never reaches the citizen registry.
    """
    spec = get_operation(name)
    if not isinstance(params, Mapping):
        raise InputError(_("{operation}: parameters must be a mapping", operation=name), operation=name)
    known = {p.name for p in spec.params}
    extra = sorted(set(params) - known)
    if extra:
        raise InputError(
            _("{operation}: unexpected parameter {parameter}", operation=name, parameter=repr(extra[0])),
            operation=name,
            parameter=extra[0],
        )
    for p in spec.params:
        if p.name not in params or params[p.name] is None:
            if p.required:
                raise InputError(
                    _("{operation}: missing parameter {parameter}", operation=name, parameter=repr(p.name)),
                    operation=name,
                    parameter=p.name,
                )
            continue
        _check_value(name, p, params[p.name])
    return spec


def _check_value(operation: str, p: ParamSpec, value: Any) -> None:
    def refuse(why: Message) -> InputError:
        text = _(
            "{operation}: parameter {parameter} {problem}", operation=operation, parameter=repr(p.name), problem=why
        )
        return InputError(text, operation=operation, parameter=p.name)

    if not isinstance(value, p.types) or isinstance(value, bool) and bool not in p.types:
        wanted = " or ".join(t.__name__ for t in p.types)
        raise refuse(_("must be {wanted}, not {kind}", wanted=wanted, kind=type(value).__name__))
    if isinstance(value, str) and not value.strip():
        raise refuse(_("must not be empty"))
    if p.name in _ID_PARAMS and isinstance(value, str) and not ric.is_valid(value):
        raise refuse(_("is not a valid GB 11643 ID number"))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise refuse(_("must have non-empty string keys"))
            if not isinstance(item, str | int | float | bool | Decimal):
                raise refuse(_("has a value of type {kind} under {key}", kind=type(item).__name__, key=repr(key)))
            if p.name == "params" and not isinstance(item, str):
                raise refuse(_("must map names to strings ({key} is {kind})", key=repr(key), kind=type(item).__name__))
    if p.name == "decided_at":
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            raise refuse(_("is not an ISO 8601 date-time")) from None
        if moment.tzinfo is None:
            raise refuse(_("must carry a UTC offset"))
    if p.name.endswith("_fen") and isinstance(value, int) and value < 0:  # money in fen, never negative
        raise refuse(_("must not be negative"))
    if p.name == "decision" and value not in ("approved", "denied"):
        raise refuse(_("must be 'approved' or 'denied'"))
