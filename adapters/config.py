"""Functional settings of each adapter (endpoint, timeouts, retry budget, client certificate,
enabled), kept in the database, and the systems an integrator added by uploading their WSDL.

An integrator edits them in the console (or ``huiju adapters set``) while Huiju runs; the
environment gives only the first defaults (``HUIJU_ADAPTER_ENDPOINTS``, else the sandbox in
development); deployment settings are in :mod:`huiju.settings`. A worker takes an
:class:`AdapterSettings` snapshot in a short transaction and makes the call afterwards, so no
session is held across the network. :func:`update_config` is the one place a change is checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from adapters.contracts import CONTRACTS
from huiju.db import Base, UTCDateTime, utcnow
from huiju.errors import InputError, NotFoundError
from huiju.i18n import Message, _
from huiju.labels import SYSTEMS

SANDBOX_MEMBER = "sandbox"
PLATFORM_MEMBER = "huiju"  # whose tls-client certificate an adapter presents unless told otherwise
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_OPERATION_TIMEOUT = 10.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_SECONDS = 2.0


class AdapterConfig(Base):
    __tablename__ = "adapter_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    wsdl_file: Mapped[str] = mapped_column(String(200))
    connect_timeout: Mapped[float] = mapped_column(Float, default=DEFAULT_CONNECT_TIMEOUT)
    operation_timeout: Mapped[float] = mapped_column(Float, default=DEFAULT_OPERATION_TIMEOUT)
    max_attempts: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_ATTEMPTS)
    backoff_seconds: Mapped[float] = mapped_column(Float, default=DEFAULT_BACKOFF_SECONDS)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The exchange member (certificate OU) whose signature this system's replies and callbacks
    # must carry; the sandbox plays every system as the member "sandbox".
    partner: Mapped[str] = mapped_column(String(64), default=SANDBOX_MEMBER)
    # The member of the certificate store whose tls-client certificate this adapter presents (mTLS).
    client_certificate: Mapped[str] = mapped_column(String(64), default=PLATFORM_MEMBER)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))

    def snapshot(self) -> AdapterSettings:
        return AdapterSettings(
            system=self.system,
            endpoint=self.endpoint,
            wsdl_file=self.wsdl_file,
            connect_timeout=self.connect_timeout,
            operation_timeout=self.operation_timeout,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            enabled=self.enabled,
            partner=self.partner,
            client_certificate=self.client_certificate,
        )


@dataclass(frozen=True, slots=True)
class AdapterSettings:
    """A detached copy of one :class:`AdapterConfig` row, safe to pass to a worker thread."""

    system: str
    endpoint: str
    wsdl_file: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    operation_timeout: float = DEFAULT_OPERATION_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    enabled: bool = True
    partner: str = "sandbox"
    client_certificate: str = PLATFORM_MEMBER

    @classmethod
    def for_sandbox(
        cls,
        system: str,
        sandbox_url: str,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        operation_timeout: float = DEFAULT_OPERATION_TIMEOUT,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        enabled: bool = True,
    ) -> AdapterSettings:
        """Settings pointing at the sandbox, for the demo, tests and benchmarks."""
        return cls(
            system=system,
            endpoint=f"{sandbox_url.rstrip('/')}/{system}",
            wsdl_file=CONTRACTS[system].wsdl_file,
            connect_timeout=connect_timeout,
            operation_timeout=operation_timeout,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            enabled=enabled,
        )


def ensure_defaults(
    session: Session,
    sandbox_url: str,
    *,
    endpoints: Mapping[str, str] | None = None,
    use_sandbox: bool = True,
) -> list[AdapterConfig]:
    """Insert a row for every built-in system that has none; keep existing rows.

    The first endpoint of a system is the one ``endpoints`` names (``HUIJU_ADAPTER_ENDPOINTS``),
    else the sandbox's when ``use_sandbox`` (development, tests, the demo); in production a system
    without one gets no endpoint and stays disabled until an integrator sets it. Returns the rows
    inserted, so a CLI can say what it did.
    """
    existing = set(session.scalars(select(AdapterConfig.system)))
    given = dict(endpoints or {})
    added = []
    for system, contract in CONTRACTS.items():
        if system in existing:
            continue
        endpoint = given.get(system) or (f"{sandbox_url.rstrip('/')}/{system}" if use_sandbox else "")
        row = AdapterConfig(
            system=system,
            endpoint=endpoint,
            wsdl_file=contract.wsdl_file,
            connect_timeout=DEFAULT_CONNECT_TIMEOUT,
            operation_timeout=DEFAULT_OPERATION_TIMEOUT,
            max_attempts=DEFAULT_MAX_ATTEMPTS,
            backoff_seconds=DEFAULT_BACKOFF_SECONDS,
            enabled=bool(endpoint),
            partner=SANDBOX_MEMBER if use_sandbox and system not in given else system.replace("_", "-"),
            client_certificate=PLATFORM_MEMBER,
        )
        session.add(row)
        added.append(row)
    session.flush()
    return added


def get_config(session: Session, system: str) -> AdapterConfig:
    row = session.scalar(select(AdapterConfig).where(AdapterConfig.system == system))
    if row is None:
        raise NotFoundError(f"no adapter configuration for system {system!r}", system=system)
    return row


# --- checking a change -------------------------------------------------------------------------------

#: What an integrator may change, with its limits: (lowest, highest) for numbers.
LIMITS: dict[str, tuple[float, float]] = {
    "connect_timeout": (0.1, 60.0),
    "operation_timeout": (0.1, 600.0),
    "max_attempts": (1, 50),
    "backoff_seconds": (0.0, 3600.0),
}
EDITABLE = ("endpoint", *LIMITS, "enabled", "partner", "client_certificate")
#: Each setting in the words of the console's form, for the messages that name it.
SETTING_WORDS: dict[str, Message] = {
    "endpoint": _("Endpoint"),
    "connect_timeout": _("Connect timeout (s)"),
    "operation_timeout": _("Call timeout (s)"),
    "max_attempts": _("Attempts"),
    "backoff_seconds": _("First wait between attempts (s)"),
    "partner": _("Its replies are signed by (member)"),
    "client_certificate": _("Client certificate (member)"),
}
_MEMBER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def check_endpoint(endpoint: str, *, secure: bool) -> str:
    """An absolute http(s) URL without credentials; in secure mode (signed exchange) HTTPS only."""
    value = endpoint.strip()
    if not value:
        return ""
    not_a_url = InputError(_("the endpoint {url} is not an http or https URL", url=repr(value)), field="endpoint")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - read for its check: a port that is no number from 0 to 65535 raises
    except ValueError:  # a broken address (an unclosed IPv6 bracket) or port
        raise not_a_url from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise not_a_url
    if parts.username or parts.password:
        raise InputError(_("the endpoint must not carry a user name or password"), field="endpoint")
    if secure and parts.scheme != "https":
        raise InputError(
            _("in secure mode an endpoint must use https (mutual TLS), not {url}", url=value), field="endpoint"
        )
    if len(value) > 500:
        raise InputError(_("the endpoint may have at most 500 characters"), field="endpoint")
    return value


def _words(name: str) -> Message | str:
    return SETTING_WORDS.get(name, name)


def _number(name: str, value: Any) -> float:
    low, high = LIMITS[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            _("{setting} must be a number, not {value}", setting=_words(name), value=repr(value)), field=name
        ) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InputError(
            _("{setting} must be between {low} and {high}", setting=_words(name), low=low, high=high), field=name
        )
    if name == "max_attempts" and number != int(number):
        raise InputError(_("{setting} must be a whole number", setting=_words(name)), field=name)
    return number


def _member(name: str, value: Any) -> str:
    text = str(value).strip()
    if not text or len(text) > 63 or not set(text) <= _MEMBER_CHARS or text.startswith("-"):
        raise InputError(
            _("{setting} must name a member: lowercase letters, digits and hyphens", setting=_words(name)), field=name
        )
    return text


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n", ""):
        return False
    raise InputError(_("enabled must be true or false, not {value}", value=repr(value)), field="enabled")


def update_config(
    session: Session, system: str, changes: Mapping[str, Any], *, secure: bool, updated_by: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply checked changes to a system's settings; returns the values before and after.

    Refused as a whole (nothing changes) when any value is wrong: an unknown setting, a timeout
    out of range, an http:// endpoint in secure mode, enabling a system that has no endpoint.
    """
    row = get_config(session, system)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InputError(
            _("unknown setting {setting}; one of: {allowed}", setting=repr(unknown[0]), allowed=", ".join(EDITABLE))
        )
    before = settings_dict(row)
    values = dict(before)
    for name, value in changes.items():
        if name == "endpoint":
            values[name] = check_endpoint(str(value), secure=secure)
        elif name in LIMITS:
            number = _number(name, value)
            values[name] = int(number) if name == "max_attempts" else number
        elif name == "enabled":
            values[name] = _flag(value)
        else:
            values[name] = _member(name, value)
    if values["enabled"] and not values["endpoint"]:
        raise InputError(
            _("{system} has no endpoint: set one before enabling it", system=SYSTEMS.get(system, system)),
            field="endpoint",
        )
    for name in EDITABLE:
        setattr(row, name, values[name])
    row.updated_by = updated_by
    row.updated_at = utcnow()
    session.flush()
    return before, settings_dict(row)


def settings_dict(row: AdapterConfig) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EDITABLE}


def list_configs(session: Session) -> list[AdapterConfig]:
    return list(session.scalars(select(AdapterConfig).order_by(AdapterConfig.id)))


# --- systems added by an integrator -----------------------------------------------------------------


class SoapSystem(Base):
    """A government system added by uploading its WSDL (no Python written); see :mod:`adapters.custom`."""

    __tablename__ = "soap_system"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. "housing": operations are housing.*
    title: Mapped[str] = mapped_column(String(100))  # its name in Chinese
    title_en: Mapped[str] = mapped_column(String(100))
    namespace: Mapped[str] = mapped_column(String(200))
    binding: Mapped[str] = mapped_column(String(100))  # the SOAP 1.1 binding's local name
    wsdl: Mapped[str] = mapped_column(Text)
    wsdl_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SoapOperation(Base):
    """A service operation name (what a BPMN service task names) mapped onto a SOAP operation."""

    __tablename__ = "soap_operation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # "<system>.<operation>"
    system_id: Mapped[int] = mapped_column(ForeignKey("soap_system.id"), index=True)
    soap_operation: Mapped[str] = mapped_column(String(100))
    #: [{"name": BPMN parameter, "element": request element, "type": "str"|"int"|"decimal"|"bool"|"date",
    #:   "required": bool}]
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: Parameters of a harmless call for "test connection" ({} when this is not the probe).
    probe: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
