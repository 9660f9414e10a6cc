"""Government systems added without writing Python (新增接入系统): upload a WSDL, map its operations
to service operation names with their parameters (:mod:`adapters.custom` does the checking).

A system uploaded here gets its adapter settings (no endpoint and disabled until an integrator
sets one), its operations join the adapter registry at once (in this process) and within a second
in the others, so a BPMN service task may name them and deploy-time validation knows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.config import AdapterConfig, SoapOperation, SoapSystem
from adapters.custom import (
    Parameter,
    WsdlSummary,
    check_mapping,
    check_names,
    default_parameters,
    inspect_wsdl,
    parameters_of,
)
from adapters.registry import REGISTRY
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import Role
from huiju.services import audit
from huiju.services.actors import Actor


def _integrator(actor: Actor) -> None:
    if actor.role is not Role.INTEGRATOR:
        raise PermissionDenied(_("only integrators add systems"))


def get_system(session: Session, name: str) -> SoapSystem:
    row = session.scalars(select(SoapSystem).where(SoapSystem.name == name)).one_or_none()
    if row is None:
        raise NotFoundError(_("no uploaded system {system}", system=repr(name)))
    return row


@dataclass(frozen=True)
class SystemDescription:
    row: SoapSystem
    summary: WsdlSummary
    operations: list[SoapOperation]


def describe(session: Session, actor: Actor, name: str) -> SystemDescription:
    if actor.role not in (Role.INTEGRATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only integrators and administrators see the adapters"))
    row = get_system(session, name)
    ops = list(
        session.scalars(select(SoapOperation).where(SoapOperation.system_id == row.id).order_by(SoapOperation.id))
    )
    return SystemDescription(row, inspect_wsdl(row.wsdl.encode("utf-8")), ops)


def upload_system(session: Session, actor: Actor, name: str, title: str, title_en: str, wsdl: bytes) -> SoapSystem:
    """A new system from its WSDL, or a new WSDL for an uploaded one (its mappings must still fit)."""
    _integrator(actor)
    name = name.strip()
    check_names(name)
    if name in {s.name for s in REGISTRY.systems() if s.builtin}:
        raise ConflictError(_("{system} is a built-in system", system=name))
    title, title_en = title.strip(), title_en.strip()
    if not title or len(title) > 100 or len(title_en) > 100:
        raise InputError(_("a system needs its name in Chinese (and may have one in English), 100 characters at most"))
    summary = inspect_wsdl(wsdl)
    try:
        text = wsdl.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(_("the WSDL is refused: {why}", why=_("it is not UTF-8 text"))) from None
    row = session.scalars(select(SoapSystem).where(SoapSystem.name == name)).one_or_none()
    before = None
    if row is None:
        row = SoapSystem(name=name, created_by=actor.username)
        session.add(row)
    else:
        before = {"wsdl_sha256": row.wsdl_sha256, "title": row.title}
        for op in session.scalars(select(SoapOperation).where(SoapOperation.system_id == row.id)):
            check_mapping(summary, op.soap_operation, parameters_of(op.parameters))  # still fits the new WSDL
    row.title, row.title_en = title, title_en or title
    row.namespace, row.binding = summary.namespace, summary.binding
    row.wsdl, row.wsdl_sha256 = text, summary.sha256
    row.updated_at = utcnow()
    if session.scalar(select(AdapterConfig.id).where(AdapterConfig.system == name)) is None:
        session.add(AdapterConfig(system=name, endpoint="", wsdl_file=f"{name}.wsdl", enabled=False,
                                  partner=name.replace("_", "-"), updated_by=actor.username))  # fmt: skip
    session.flush()
    audit.record(session, actor, "system.upload", target_kind="system", target=name, before=before,
                 after={"wsdl_sha256": summary.sha256, "title": title,
                        "operations": [op.name for op in summary.operations]})  # fmt: skip
    return row


def map_operation(
    session: Session,
    actor: Actor,
    system: str,
    name: str,
    soap_operation: str,
    parameters: Sequence[Parameter] | None = None,
    *,
    probe: dict[str, Any] | None = None,
) -> SoapOperation:
    """Name a SOAP operation of an uploaded system as a service operation (``system.operation``).

    Without ``parameters`` every simple element of its request becomes a parameter, in snake_case.
    With ``probe`` (the parameters of a harmless call) it is what "test connection" sends.
    """
    _integrator(actor)
    row = get_system(session, system)
    check_names(system, name)
    if REGISTRY.operation(name) is not None and not session.scalar(
        select(SoapOperation.id).where(SoapOperation.name == name)
    ):
        raise ConflictError(_("the operation {operation} exists already", operation=name))
    summary = inspect_wsdl(row.wsdl.encode("utf-8"))
    chosen = list(parameters) if parameters is not None else default_parameters(summary.operation(soap_operation))
    params = check_mapping(summary, soap_operation, chosen)
    op = session.scalars(select(SoapOperation).where(SoapOperation.name == name)).one_or_none()
    before = None
    if op is None:
        op = SoapOperation(name=name, system_id=row.id, created_by=actor.username, soap_operation=soap_operation,
                           parameters=[p.as_json() for p in params])  # fmt: skip
        session.add(op)
    else:
        before = {"soap_operation": op.soap_operation, "parameters": op.parameters, "probe": op.probe}
    if probe is not None:
        from adapters.custom import operation_spec

        spec = operation_spec(system, name, soap_operation, params)
        _check_probe(spec, probe)
        for other in session.scalars(select(SoapOperation).where(SoapOperation.system_id == row.id)):
            if other is not op:
                other.probe = None
    op.soap_operation = soap_operation
    op.parameters = [p.as_json() for p in params]
    op.probe = probe
    op.updated_at = utcnow()
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "system.map_operation", target_kind="operation", target=name, before=before,
                 after={"soap_operation": soap_operation, "parameters": op.parameters, "probe": probe})  # fmt: skip
    return op


def _check_probe(spec: Any, params: dict[str, Any]) -> None:
    known = {p.name: p for p in spec.params}
    for key, value in params.items():
        if key not in known:
            raise InputError(_("the probe names no parameter {name}", name=repr(key)))
        if not isinstance(value, known[key].types):
            raise InputError(_("the probe's {name} has the wrong type", name=key))
    missing = [p.name for p in spec.params if p.required and p.name not in params]
    if missing:
        raise InputError(_("the probe needs {name}", name=missing[0]))


def refresh_registry() -> None:
    """After a commit: this process's registry knows the change at once (the others within a second)."""
    REGISTRY.refresh(force=True)
