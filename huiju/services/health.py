"""What ``/healthz`` checks: the database, the broker, each government system's endpoint, the outbox.

A part is healthy when it answers within ``HUIJU_HEALTH_TIMEOUT``; the outbox when fewer than
``HUIJU_HEALTH_OUTBOX_DEPTH`` messages wait and none has waited longer than
``HUIJU_HEALTH_OUTBOX_AGE`` seconds (a worker that stopped, or a system that stopped answering).
The systems are reached at the endpoints the integrator configured (``adapter_config``): a TCP
connection, no call (a health check must not act on a government system). Checks that may wait run
side by side, so that a check takes about one timeout at worst.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, text

from adapters.config import AdapterConfig
from exchange.models import MessageStatus, OutboxMessage
from huiju.db import Database, utcnow
from huiju.services.metrics import as_aware
from huiju.settings import Settings


@dataclass(frozen=True)
class Part:
    name: str  # database, broker, outbox, system:<name>
    ok: bool
    detail: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


def check_database(db: Database) -> Part:
    try:
        with db.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure is the answer
        return Part("database", False, f"{type(exc).__name__}: {exc}".splitlines()[0])
    return Part("database", True)


def check_broker(broker_url: str | None, folders: tuple[Path, ...], timeout: float) -> Part:
    """The Celery broker: the filesystem broker's folders, or a connection to the server."""
    if broker_url is None:
        return Part("broker", True, "this process sends no jobs")
    if broker_url.startswith("filesystem"):
        missing = [str(f) for f in folders if not (f.is_dir() and os.access(f, os.W_OK))]
        return Part("broker", not missing, f"not writable: {', '.join(missing)}" if missing else "")
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=0, interval_start=0, timeout=timeout)
            client = getattr(connection.default_channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()
    except Exception as exc:  # any failure is the answer
        return Part("broker", False, f"{type(exc).__name__}: {exc}".splitlines()[0])
    return Part("broker", True)


def check_endpoint(system: str, endpoint: str, timeout: float) -> Part:
    """A TCP connection to the system's endpoint (the sandbox in development)."""
    name = f"system:{system}"
    address = urlsplit(endpoint)
    port = address.port or (443 if address.scheme == "https" else 80)
    if not address.hostname:
        return Part(name, False, f"no host in endpoint {endpoint!r}")
    try:
        with socket.create_connection((address.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        return Part(name, False, f"{address.hostname}:{port}: {exc.strerror or exc}")
    return Part(name, True, f"{address.hostname}:{port}")


def check_outbox(db: Database, max_depth: int, max_age: float) -> Part:
    with db.sessions() as session:
        depth, oldest = session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(
                OutboxMessage.status == MessageStatus.PENDING
            )
        ).one()
    age = 0.0
    if oldest is not None:
        age = max(0.0, (utcnow() - as_aware(oldest)).total_seconds())
    figures = {"depth": int(depth), "oldest_age_seconds": round(age, 1)}
    if depth > max_depth:
        return Part("outbox", False, f"{depth} messages wait (more than {max_depth})", figures)
    if age > max_age:
        return Part("outbox", False, f"a message has waited {age:.0f} s (more than {max_age:.0f} s)", figures)
    return Part("outbox", True, "", figures)


def check_all(db: Database, settings: Settings, broker_url: str | None) -> list[Part]:
    """Every part, the slow ones side by side."""
    timeout = settings.health_timeout
    database = check_database(db)
    endpoints: list[tuple[str, str]] = []
    if database.ok:
        with db.sessions() as session:
            endpoints = [
                (system, endpoint)
                for system, endpoint in session.execute(
                    select(AdapterConfig.system, AdapterConfig.endpoint)
                    .where(AdapterConfig.enabled.is_(True))
                    .order_by(AdapterConfig.system)
                )
            ]
    folders = (settings.broker_folder / "queue", settings.broker_folder / "processed")
    with ThreadPoolExecutor(max_workers=1 + len(endpoints)) as pool:
        broker = pool.submit(check_broker, broker_url, folders, timeout)
        systems = [pool.submit(check_endpoint, system, endpoint, timeout) for system, endpoint in endpoints]
        parts = [database, broker.result(), *(s.result() for s in systems)]
    if database.ok:
        parts.append(check_outbox(db, settings.health_outbox_depth, settings.health_outbox_age))
    else:
        parts.append(Part("outbox", False, "the database does not answer"))
    return parts
