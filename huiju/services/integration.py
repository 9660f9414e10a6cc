"""Adapters (接口配置) for integrators: each government system's endpoint, timeouts, retry budget,
client certificate and enabled flag, and "test connection".

The settings live in the database (:mod:`adapters.config`, checked there: an ``http://`` endpoint is
refused in secure mode); every change is audited with its values before and after. A connection
test sends the system's cheapest harmless call (its registered probe) with the stored settings,
signed and over mutual TLS as every call is, and shows the round trip, the signed request, the
reply and whether its signature verified, or why it failed, in words. The exchange goes to the
message log like any other.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from adapters import client as adapter_client
from adapters.config import AdapterConfig, get_config, list_configs, settings_dict, update_config
from adapters.registry import REGISTRY, System
from adapters.signing import Exchanged
from exchange.delivery import Caller, Claimed, log_exchange, send
from exchange.security import ExchangeSecurity
from huiju.db import Database
from huiju.errors import AdapterError, HuijuError, InputError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Role
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.message_log import pretty_xml


def _reader(actor: Actor) -> None:
    if actor.role not in (Role.INTEGRATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only integrators and administrators see the adapters"))


def _integrator(actor: Actor) -> None:
    if actor.role is not Role.INTEGRATOR:
        raise PermissionDenied(_("only integrators change adapters"))


@dataclass(frozen=True)
class Adapter:
    system: System
    config: AdapterConfig


def adapters(session: Session, actor: Actor) -> list[Adapter]:
    """Every registered system with its settings, built-in systems first."""
    _reader(actor)
    configs = {c.system: c for c in list_configs(session)}
    return [Adapter(s, configs[s.name]) for s in REGISTRY.systems() if s.name in configs]


def adapter(session: Session, actor: Actor, name: str) -> Adapter:
    _reader(actor)
    return Adapter(REGISTRY.system(name), get_config(session, name))


def configure(session: Session, actor: Actor, name: str, changes: Mapping[str, Any], *, secure: bool) -> Adapter:
    """Change a system's settings (checked as a whole; nothing changes when one value is wrong)."""
    _integrator(actor)
    system = REGISTRY.system(name)
    before, after = update_config(session, name, changes, secure=secure, updated_by=actor.username)
    if before != after:
        changed = {k for k in after if after[k] != before[k]}
        audit.record(session, actor, "adapter.update", target_kind="adapter", target=name,
                     before={k: before[k] for k in sorted(changed)},
                     after={k: after[k] for k in sorted(changed)})  # fmt: skip
    return Adapter(system, get_config(session, name))


# --- test connection -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionTest:
    system: str
    operation: str
    endpoint: str
    message_id: str
    ok: bool  # the system answered, and its reply passed every check (a refusal of the probe included)
    reached: bool  # something answered at the endpoint (maybe a refusal)
    round_trip_ms: float | None
    explanation: Message  # what happened, in words
    detail: str  # the technical reason, as the adapter reported it
    request_xml: str  # the signed request as sent, indented for reading
    reply_xml: str
    reply_signature: str  # verified, refused, not-checked, no-reply
    signer: str | None
    reply: dict[str, Any] | None


def _explain(error: HuijuError, endpoint: str, record: Exchanged | None) -> tuple[Message, bool]:
    """Why a test failed, in words; and whether the system was reached at all."""
    details = error.details
    why = error.message.partition(": ")[2] or error.message
    if "tls_error" in details:
        return _("the TLS handshake with {endpoint} failed: {why}", endpoint=endpoint, why=why), True
    if "fault_code" in details and record is not None and record.reply_signature in ("verified", "not-checked"):
        return _("the system answered and refused the test request ({fault}): the connection works",
                 fault=details.get("fault_string") or details["fault_code"]), True  # fmt: skip
    if record is not None and record.reply_signature == "refused":
        return _("the reply was refused: {why}", why=record.reply_error or why), True
    if "status_code" in details:
        return _("{endpoint} answered with HTTP status {status}", endpoint=endpoint,
                 status=details["status_code"]), True  # fmt: skip
    if "timed out" in error.message:
        return _("no answer from {endpoint} within the timeouts", endpoint=endpoint), False
    if isinstance(error, AdapterError) and error.transient:
        return _("no connection to {endpoint}: nothing answers there, or the connection was refused",
                 endpoint=endpoint), False  # fmt: skip
    return _("the call failed: {why}", why=why), record is not None and record.reply is not None


def test_connection(
    db: Database,
    actor: Actor,
    name: str,
    security: Callable[[], ExchangeSecurity] | None,
    *,
    caller: Caller = adapter_client.call,
) -> ConnectionTest:
    """Send the system's probe with its stored settings (even while it is disabled) and report."""
    if actor.role not in (Role.INTEGRATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only integrators and administrators test adapters"))
    system = REGISTRY.system(name)
    if system.probe is None:
        raise InputError(_("{system} has no test operation: mark one of its mapped operations as the probe",
                           system=name))  # fmt: skip
    with db.sessions() as session:
        settings = get_config(session, name).snapshot()
    if not settings.endpoint:
        raise InputError(_("{system} has no endpoint yet: set one first", system=name))
    claimed = Claimed(
        message_id=f"test-{uuid.uuid4()}", operation=system.probe.operation, params=dict(system.probe.params),
        user_id=actor.username, case_number=None, attempt=1, settings=dataclasses.replace(settings, enabled=True),
    )  # fmt: skip
    exchanged: list[Exchanged] = []
    error: HuijuError | None = None
    reply: dict[str, Any] | None = None
    started = time.perf_counter()
    try:
        reply = send(caller, claimed, security, exchanged)
    except HuijuError as exc:
        error = exc
    elapsed = (time.perf_counter() - started) * 1000
    record = exchanged[-1] if exchanged else None
    with db.transaction() as session:
        for item in exchanged:
            log_exchange(session, claimed, item, error)
        audit.record(session, actor, "adapter.test", target_kind="adapter", target=name,
                     after={"endpoint": settings.endpoint, "ok": error is None},
                     detail=error.message if error else None)  # fmt: skip
    if error is None:
        signed = record is not None and record.reply_signature == "verified"
        explanation = (
            _("the system answered in {ms} ms; its reply is signed by {signer} and verified", ms=round(elapsed),
              signer=record.signer_subject if record else "")
            if signed else _("the system answered in {ms} ms (plain mode: nothing signed)", ms=round(elapsed))
        )  # fmt: skip
        ok, reached = True, True
    else:
        explanation, reached = _explain(error, settings.endpoint, record)
        # A refusal of the probe itself, signed and verified, still proves the connection.
        ok = "fault_code" in error.details and record is not None and record.reply_signature in (
            "verified", "not-checked")  # fmt: skip
    return ConnectionTest(
        system=name, operation=system.probe.operation, endpoint=settings.endpoint, message_id=claimed.message_id,
        ok=ok, reached=reached, round_trip_ms=elapsed if reached else None, explanation=explanation,
        detail=error.message if error else "",
        request_xml=pretty_xml(record.request) if record else "",
        reply_xml=pretty_xml(record.reply) if record and record.reply else "",
        reply_signature=record.reply_signature if record else "no-reply",
        signer=record.signer_subject if record else None, reply=reply,
    )  # fmt: skip


def settings_of(config: AdapterConfig) -> dict[str, Any]:
    return settings_dict(config)
