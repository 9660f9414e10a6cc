"""Functional settings of each adapter (endpoint, timeouts, retry budget), kept in the database.

An integrator edits them in the console while Huiju runs; deployment settings (environment
variables) are in :mod:`huiju.settings`. A worker takes an :class:`AdapterSettings` snapshot in a
short transaction and makes the call afterwards, so no session is held across the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from adapters.contracts import CONTRACTS
from huiju.db import Base, UTCDateTime, utcnow
from huiju.errors import NotFoundError

SANDBOX_MEMBER = "sandbox"
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
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

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


def ensure_defaults(session: Session, sandbox_url: str) -> list[AdapterConfig]:
    """Insert a row for every system that has none, pointing at the sandbox; keep existing rows.

    Returns the rows inserted, so a CLI can say what it did.
    """
    existing = set(session.scalars(select(AdapterConfig.system)))
    added = []
    for system, contract in CONTRACTS.items():
        if system in existing:
            continue
        row = AdapterConfig(
            system=system,
            endpoint=f"{sandbox_url.rstrip('/')}/{system}",
            wsdl_file=contract.wsdl_file,
            connect_timeout=DEFAULT_CONNECT_TIMEOUT,
            operation_timeout=DEFAULT_OPERATION_TIMEOUT,
            max_attempts=DEFAULT_MAX_ATTEMPTS,
            backoff_seconds=DEFAULT_BACKOFF_SECONDS,
            enabled=True,
            partner=SANDBOX_MEMBER,
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
