"""Government systems added without writing Python: an uploaded WSDL and operations mapped onto it.

An integrator uploads a system's WSDL 1.1 (SOAP 1.1, document/literal, carrying Huiju's exchange
header like every contract in ``adapters/wsdl/``) and maps one of its operations to a service
operation name (``housing.query_housing``) with its parameters: which request element each fills
and its type. The mapping is stored (:class:`adapters.config.SoapSystem`, ``SoapOperation``) and
registered in :data:`adapters.registry.REGISTRY` through :func:`loader`, so that a BPMN service task
may name it, deploy-time validation knows it and the worker delivers it like any other call.

An uploaded WSDL is untrusted input: its bytes are capped, a DOCTYPE is refused, and zeep reads it
through :class:`adapters.client.GuardedTransport`, which loads nothing but Huiju's contract files
(the exchange header's schema): no network, no local file.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from zeep.wsdl import Document
from zeep.xsd.types import builtins as xsd_builtins

from adapters.config import SoapOperation, SoapSystem
from adapters.contracts import EXCHANGE_NS, WSDL_DIR, Contract
from adapters.registry import REGISTRY, Json, Loader, Named, OperationSpec, ParamSpec, Probe, System, jsonable
from huiju.db import Database
from huiju.errors import InputError
from huiju.i18n import Message, _

MAX_WSDL_BYTES = 512 * 1024
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
OPERATION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PARAMETER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"

#: The parameter types a mapping may use: what a BPMN expression may give, and how it is sent.
TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "decimal": (str, int, Decimal),
    "bool": (bool,),
    "date": (str, date),
    "datetime": (str, datetime),
}
_XSD_TYPES: tuple[tuple[type, str], ...] = (
    (xsd_builtins.Boolean, "bool"),
    (xsd_builtins.Integer, "int"),
    (xsd_builtins.Decimal, "decimal"),
    (xsd_builtins.Float, "decimal"),
    (xsd_builtins.Double, "decimal"),
    (xsd_builtins.DateTime, "datetime"),
    (xsd_builtins.Date, "date"),
    (xsd_builtins.String, "str"),
)


@dataclass(frozen=True)
class Element:
    name: str
    type: str | None  # one of TYPES, or None: a structure no mapping can fill
    required: bool


@dataclass(frozen=True)
class Operation:
    name: str
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class WsdlSummary:
    namespace: str
    binding: str
    operations: tuple[Operation, ...]
    sha256: str

    def operation(self, name: str) -> Operation:
        for op in self.operations:
            if op.name == name:
                return op
        known = ", ".join(op.name for op in self.operations)
        raise InputError(_("the WSDL has no operation {operation}; it has: {known}", operation=repr(name), known=known))


def _refused(why: Message) -> InputError:
    return InputError(_("the WSDL is refused: {why}", why=why), field="wsdl")


def _document(data: bytes) -> Document:
    from adapters.client import GuardedTransport, _zeep_settings

    # The base makes the exchange header's relative schemaLocation resolve among our contract files.
    base = str(WSDL_DIR / "uploaded.wsdl")
    # zeep annotates the transport as a class, but it takes (and uses) a transport instance.
    return Document(io.BytesIO(data), GuardedTransport(), base=base, settings=_zeep_settings())  # type: ignore[arg-type]


def _kind(element: Any) -> str | None:
    for cls, name in _XSD_TYPES:
        if isinstance(element.type, cls):
            return name
    base = getattr(element.type, "base_class", None)  # a restriction (an enumeration) of a built-in type
    for cls, name in _XSD_TYPES:
        if isinstance(base, type) and issubclass(base, cls):
            return name
    return None


def inspect_wsdl(data: bytes) -> WsdlSummary:
    """What an uploaded WSDL offers, or an InputError that says why it cannot be used."""
    if len(data) > MAX_WSDL_BYTES:
        raise _refused(_("it is larger than {size} KB", size=MAX_WSDL_BYTES // 1024))
    if _DOCTYPE.search(data):
        raise _refused(_("DOCTYPE declarations are not accepted"))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise _refused(_("it is not well-formed XML ({error})", error=exc.msg)) from None
    if root.tag != f"{{{WSDL_NS}}}definitions":
        raise _refused(_("it is not a WSDL 1.1 document"))
    try:
        document = _document(data)
    except Exception as exc:  # zeep raises many kinds for a broken WSDL; all mean the same here
        raise _refused(_("it cannot be read: {error}", error=str(exc)[:300])) from None
    bindings = [(qname, b) for qname, b in document.bindings.items() if type(b).__name__ == "Soap11Binding"]
    if len(bindings) != 1:
        raise _refused(_("it must have exactly one SOAP 1.1 binding, it has {count}", count=len(bindings)))
    qname, binding = bindings[0]
    namespace, local = etree.QName(qname).namespace or "", etree.QName(qname).localname
    operations = []
    for name, op in sorted(binding.all().items()):
        header = op.input.header
        headers = {str(e.qname) for _n, e in header.type.elements} if header is not None else set()
        if f"{{{EXCHANGE_NS}}}ExchangeHeader" not in headers:
            raise _refused(
                _("operation {operation} does not carry the exchange header ({{{ns}}}ExchangeHeader) in its input",
                  operation=name, ns=EXCHANGE_NS)
            )  # fmt: skip
        body = op.input.body
        if body is None or not hasattr(body.type, "elements"):
            raise _refused(_("operation {operation} is not document/literal", operation=name))
        elements = tuple(Element(n, _kind(e), e.min_occurs > 0) for n, e in body.type.elements)
        operations.append(Operation(name, elements))
    if not operations:
        raise _refused(_("its binding has no operations"))
    return WsdlSummary(namespace, local, tuple(operations), hashlib.sha256(data).hexdigest())


# --- mappings --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    name: str  # as a BPMN service task names it
    element: str  # the request element it fills
    type: str
    required: bool

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "element": self.element, "type": self.type, "required": self.required}


def default_parameters(operation: Operation) -> list[Parameter]:
    """Every element of the request, named in snake_case (``idNumber`` -> ``id_number``)."""
    return [
        Parameter(re.sub(r"(?<!^)(?=[A-Z])", "_", e.name).lower(), e.name, e.type or "str", e.required)
        for e in operation.elements
        if e.type is not None
    ]


def check_mapping(summary: WsdlSummary, soap_operation: str, parameters: Sequence[Parameter]) -> list[Parameter]:
    """The parameters, checked against the operation's request: each names one of its simple elements
    with the type the WSDL gives, every required element is filled, no name twice."""
    operation = summary.operation(soap_operation)
    elements = {e.name: e for e in operation.elements}
    seen_names: set[str] = set()
    seen_elements: set[str] = set()
    for p in parameters:
        if not PARAMETER_NAME.match(p.name):
            raise InputError(_("parameter name {name} must be lowercase letters, digits and underscores",
                               name=repr(p.name)))  # fmt: skip
        element = elements.get(p.element)
        if element is None:
            raise InputError(_("{operation} has no request element {element}", operation=soap_operation,
                               element=repr(p.element)))  # fmt: skip
        if element.type is None:
            raise InputError(_("request element {element} is a structure: it cannot be mapped to one parameter",
                               element=p.element))  # fmt: skip
        if p.type != element.type:
            raise InputError(_("request element {element} is of type {wanted}, not {given}", element=p.element,
                               wanted=element.type, given=p.type))  # fmt: skip
        if p.name in seen_names or p.element in seen_elements:
            raise InputError(_("parameter {name} (element {element}) is mapped twice", name=p.name,
                               element=p.element))  # fmt: skip
        seen_names.add(p.name)
        seen_elements.add(p.element)
    missing = [e.name for e in operation.elements if e.required and e.name not in seen_elements]
    if missing:
        raise InputError(_("request element {element} is required: map a parameter to it", element=missing[0]))
    return list(parameters)


def check_names(system: str, operation_name: str | None = None) -> None:
    if not SYSTEM_NAME.match(system):
        raise InputError(_("a system name is 2 to 32 lowercase letters, digits and underscores, starting "
                           "with a letter, not {name}", name=repr(system)))  # fmt: skip
    if operation_name is not None:
        prefix, _dot, rest = operation_name.partition(".")
        if prefix != system or not OPERATION_NAME.match(rest):
            raise InputError(_("an operation of {system} is named {system}.<lowercase name>, not {name}",
                               system=system, name=repr(operation_name)))  # fmt: skip


def _converter(kind: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if kind == "decimal":
            return Decimal(str(value))
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        if kind == "datetime" and isinstance(value, str):
            return datetime.fromisoformat(value)
        return value

    return convert


def _request_builder(parameters: Sequence[Parameter]) -> Callable[[Mapping[str, Any]], Json]:
    converters = {p.name: (p.element, _converter(p.type)) for p in parameters}

    def build(params: Mapping[str, Any]) -> Json:
        request: Json = {}
        for name, value in params.items():
            if value is None:
                continue
            element, convert = converters[name]
            try:
                request[element] = convert(value)
            except (ValueError, InvalidOperation) as exc:
                raise InputError(_("parameter {name}: {error}", name=name, error=str(exc)), parameter=name) from exc
        return request

    return build


def operation_spec(system: str, name: str, soap_operation: str, parameters: Sequence[Parameter]) -> OperationSpec:
    return OperationSpec(
        name=name,
        system=system,
        soap_operation=soap_operation,
        params=tuple(ParamSpec(p.name, TYPES[p.type], p.required) for p in parameters),
        to_request=_request_builder(parameters),
        from_reply=jsonable,
    )


def parameters_of(rows: Sequence[Mapping[str, Any]]) -> list[Parameter]:
    return [Parameter(str(r["name"]), str(r["element"]), str(r["type"]), bool(r["required"])) for r in rows]


def system_of(row: SoapSystem, operations: Sequence[SoapOperation]) -> System:
    specs = tuple(operation_spec(row.name, op.name, op.soap_operation, parameters_of(op.parameters))
                  for op in operations)  # fmt: skip
    probe = next((Probe(op.name, dict(op.probe)) for op in operations if op.probe is not None), None)
    contract = Contract(row.name, row.title, row.namespace, f"{row.name}.wsdl", row.binding,
                        tuple(op.soap_operation for op in operations))  # fmt: skip
    return System(
        name=row.name,
        title=Named(row.title, row.title_en),
        contract=contract,
        operations=specs,
        probe=probe,
        builtin=False,
        wsdl_text=row.wsdl,
        wsdl_sha256=row.wsdl_sha256,
    )


def loader(db: Database) -> Loader:
    """The registry's loader of uploaded systems, reading the database in a short session."""

    def load(known: Hashable | None) -> tuple[Hashable, list[System] | None]:
        try:
            return _load(known)
        except DBAPIError:
            # No tables yet (a database being created or migrated): no uploaded systems for now.
            return "unavailable", []

    def _load(known: Hashable | None) -> tuple[Hashable, list[System] | None]:
        with db.sessions() as session:
            stamp = (
                session.scalar(select(func.max(SoapSystem.updated_at))),
                session.scalar(select(func.max(SoapOperation.updated_at))),
                session.scalar(select(func.count(SoapOperation.id))),
            )
            if known is not None and stamp == known:
                return stamp, None
            systems = []
            for row in session.scalars(select(SoapSystem).order_by(SoapSystem.id)):
                ops = session.scalars(
                    select(SoapOperation).where(SoapOperation.system_id == row.id).order_by(SoapOperation.id)
                ).all()
                systems.append(system_of(row, ops))
            return stamp, systems

    return load


@lru_cache(maxsize=32)
def _parsed(sha256: str, text: str) -> Document:
    return _document(text.encode("utf-8"))


def document(system: System) -> Document:
    """The parsed WSDL of an uploaded system, parsed once per process and version."""
    if system.wsdl_text is None or system.wsdl_sha256 is None:
        raise InputError(_("{system} is not an uploaded system", system=system.name))
    return _parsed(system.wsdl_sha256, system.wsdl_text)


def install(db: Database) -> None:
    """Register the uploaded systems of ``db`` (called once at start-up by the assembly)."""
    REGISTRY.use_loader(loader(db))
