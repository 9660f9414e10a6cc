"""The one registry of government systems and the operations a BPMN service task may name, found
by name, never by Python path.

A :class:`System` is registered once (:meth:`Registry.register`, the model is open-forms'
``plugins/registry.py``): its SOAP contract, its title in words, its operations, and the harmless
call that "test connection" makes. The built-in systems are registered at the end of this module;
systems an integrator adds by uploading a WSDL (:mod:`adapters.custom`) come from the database
through a loader the assembly installs at start-up (:meth:`Registry.use_loader`), and are read
again when they change. Validation at deploy time, the outbox, the client, the adapter settings and
the console all look systems and operations up here, so adding a system touches this one place
(and its WSDL).

Each :class:`OperationSpec` says which system and SOAP operation it calls, which parameters it
takes (checked by :func:`validate_params` before anything leaves the building, ID numbers with
their GB 11643 check digit), how those parameters become the SOAP request and how zeep's reply
becomes a JSON-safe dict that the engine can store in a process instance.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from stdnum.cn import ric

from adapters.contracts import CONTRACTS, Contract
from huiju.errors import InputError, NotFoundError
from huiju.i18n import Message, _, normalize

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


def _query_case_reply(reply: Json) -> Json:
    """The extranet's state of a case; once decided, shaped like its decision callback (NotifyDecision),
    so that a step may take either: ``decision`` is None while it is undecided, ``reason`` never None."""
    out = jsonable(reply)
    for name in ("decision", "decided_by", "decided_at"):
        out.setdefault(name, None)
    out["reason"] = out.get("reason") or ""
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
            _query_case_reply,
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


# --- the registry ------------------------------------------------------------------------------


class Named(Message):
    """A name a person gave in both languages (an uploaded system's title): not in the catalogue."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en or zh)
        self.zh = zh or en

    def localize(self, locale: str | None = None) -> str:
        return self.zh if normalize(locale) == "zh_CN" else self.msgid


@dataclass(frozen=True, slots=True)
class Probe:
    """The cheapest harmless call of a system: what "test connection" sends."""

    operation: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class System:
    name: str
    title: Message  # in words, Chinese in the catalogue
    contract: Contract
    operations: tuple[OperationSpec, ...]
    probe: Probe | None = None
    builtin: bool = True
    #: An uploaded system's WSDL (a built-in one's is the contract file) and its SHA-256.
    wsdl_text: str | None = None
    wsdl_sha256: str | None = None
    operation_names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation_names", frozenset(op.name for op in self.operations))


#: Loads the uploaded systems: returns a generation stamp (changes when they change) and, when the
#: stamp differs from the one given, the systems (else None).
Loader = Callable[[Hashable | None], tuple[Hashable, list[System] | None]]
RELOAD_SECONDS = 1.0


class Registry:
    """Systems by name, operations by name; uploaded systems read again when they change."""

    def __init__(self) -> None:
        self._builtin: dict[str, System] = {}
        self._custom: dict[str, System] = {}
        self._operations: dict[str, OperationSpec] = {}
        self._loader: Loader | None = None
        self._generation: Hashable | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def register(self, system: System) -> System:
        """Register a built-in system (once per name; its operations' names must be new)."""
        if system.name in self._builtin:
            raise ValueError(f"system {system.name!r} is registered already")
        clash = system.operation_names & set(self._operations)
        if clash:
            raise ValueError(f"operation {sorted(clash)[0]!r} is registered already")
        self._builtin[system.name] = system
        self._operations.update({op.name: op for op in system.operations})
        return system

    def use_loader(self, loader: Loader | None) -> None:
        """Where uploaded systems come from (the database, installed at start-up); None: built-ins only."""
        with self._lock:
            self._loader = loader
            self._generation = None
            self._checked_at = float("-inf")
            self._custom = {}

    def refresh(self, *, force: bool = False) -> None:
        """Read the uploaded systems again if they changed (checked at most every RELOAD_SECONDS)."""
        loader = self._loader
        if loader is None:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._checked_at < RELOAD_SECONDS:
                return
            self._checked_at = now
            generation, systems = loader(None if force else self._generation)
            if systems is None and not force:
                return
            self._generation = generation
            custom = {s.name: s for s in systems or [] if s.name not in self._builtin}
            self._custom = custom

    def systems(self) -> list[System]:
        self.refresh()
        return [*self._builtin.values(), *self._custom.values()]

    def system(self, name: str) -> System:
        found = self._builtin.get(name) or self._custom.get(name)
        if found is None:
            self.refresh()
            found = self._custom.get(name)
        if found is None:
            raise NotFoundError(_("unknown government system {system}", system=repr(name)), system=name)
        return found

    def operation(self, name: str) -> OperationSpec | None:
        found = self._operations.get(name)
        if found is not None:
            return found
        self.refresh()
        for system in self._custom.values():
            for spec in system.operations:
                if spec.name == name:
                    return spec
        return None


REGISTRY = Registry()


def is_known(name: str) -> bool:
    return REGISTRY.operation(name) is not None


def get_operation(name: str) -> OperationSpec:
    spec = REGISTRY.operation(name)
    if spec is None:
        raise InputError(_("unknown adapter operation {operation}", operation=repr(name)), operation=name)
    return spec


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


@lru_cache(maxsize=4096)
def _valid_id_number(value: str) -> bool:
    """GB 11643's check, remembered: a case's calls name its applicant's number again and again, and
    the check looks the birthplace up in a table (a tenth of a millisecond)."""
    return bool(ric.is_valid(value))


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
    if p.name in _ID_PARAMS and isinstance(value, str) and not _valid_id_number(value):
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


# --- the built-in systems -----------------------------------------------------------------------

#: A well-formed ID number (GB 11643 check digit right) of nobody: the identity probe asks about it.
PROBE_ID_NUMBER = "11010519000101001X"
PROBE_KEY = "huiju-connection-test"

_TITLES: dict[str, Message] = {
    "citizen_info": _("citizen information system"),
    "sms": _("SMS platform"),
    "egov_approval": _("e-gov extranet approval platform"),
    "data_exchange": _("data exchange platform"),
    "payment": _("payment platform"),
}
_PROBES: dict[str, Probe] = {
    "citizen_info": Probe("citizen_info.verify_identity", {"id_number": PROBE_ID_NUMBER, "name": "连接测试"}),
    "sms": Probe("sms.query_delivery", {"sms_id": PROBE_KEY}),
    "egov_approval": Probe("egov.query_case", {"receipt_number": PROBE_KEY}),
    "data_exchange": Probe("data_exchange.query_records", {"dataset": PROBE_KEY, "filter": {}}),
    "payment": Probe("payment.query_payment", {"payment_id": PROBE_KEY}),  # unknown: refused, so harmless
}

for _name, _contract in CONTRACTS.items():
    REGISTRY.register(
        System(
            name=_name,
            title=_TITLES[_name],
            contract=_contract,
            operations=tuple(spec for spec in OPERATIONS.values() if spec.system == _name),
            probe=_PROBES[_name],
        )
    )
