"""The sandbox's memory: the message journal, injected faults and what each system stored.

Exactly-once as the receiver sees it: the journal is keyed by the exchange header's messageId.
The first request under an id acts and its reply is stored; a repeat with the same Body (same
SHA-256 of the exclusive-c14n Body) gets the stored reply and acts again never; a repeat with
another Body is refused. One lock guards everything, so concurrent duplicates also act once.
In secure mode, requests refused before acting (signature, certificate, timestamp, reused id)
are kept apart in ``refusals``, never in the journal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from huiju.db import utcnow

FAULT_MODES = frozenset({"server_fault", "client_fault", "http_500", "http_429", "delay"})


@dataclass(slots=True)
class JournalEntry:
    message_id: str
    system: str
    operation: str
    digest: str
    request: dict[str, Any]
    response: dict[str, Any]
    outcome: str  # "ok" or "fault" (a business fault, such as an unknown person)
    reply: bytes
    http_status: int
    first_received_at: datetime
    last_received_at: datetime
    received_count: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "system": self.system,
            "operation": self.operation,
            "digest": self.digest,
            "request": self.request,
            "response": self.response,
            "outcome": self.outcome,
            "received_count": self.received_count,
            "first_received_at": self.first_received_at.isoformat(),
            "last_received_at": self.last_received_at.isoformat(),
        }


@dataclass(slots=True)
class FaultRule:
    operation: str  # a SOAP operation name, or "*"
    mode: str
    remaining: int | None  # None: until cleared
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "mode": self.mode,
            "count": self.remaining,
            "seconds": self.seconds,
        }


@dataclass(slots=True)
class Refusal:
    """A request the secure sandbox refused: nothing was acted on or journaled for it."""

    system: str
    message_id: str | None  # as the request claimed it (unverified)
    code: str
    reason: str
    received_at: datetime
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "message_id": self.message_id,
            "code": self.code,
            "reason": self.reason,
            "received_at": self.received_at.isoformat(),
            "size": self.size,
        }


class DigestMismatch(Exception):
    """A used message id arrived with another request."""


@dataclass(slots=True)
class Stores:
    sms: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)  # the payment platform's (O2O)
    counter: int = 0

    def next_number(self) -> int:
        self.counter += 1
        return self.counter


class SandboxState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.journal: dict[str, JournalEntry] = {}
        self.faults: list[FaultRule] = []
        self.refusals: list[Refusal] = []
        self.stores = Stores()

    def reset(self) -> None:
        with self.lock:
            self.journal.clear()
            self.faults.clear()
            self.refusals.clear()
            self.stores = Stores()

    def refuse(self, refusal: Refusal) -> None:
        with self.lock:
            self.refusals.append(refusal)

    def refused(self, message_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r.to_json() for r in self.refusals if not message_id or r.message_id == message_id]

    # --- faults on demand ----------------------------------------------------------------------

    def add_fault(self, rule: FaultRule) -> None:
        with self.lock:
            self.faults.append(rule)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, operation: str) -> FaultRule | None:
        """The first rule that applies to this call, counted down (and dropped when spent)."""
        with self.lock:
            for rule in self.faults:
                if rule.operation not in ("*", operation):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self.faults.remove(rule)
                return FaultRule(rule.operation, rule.mode, rule.remaining, rule.seconds)
        return None

    # --- the journal ---------------------------------------------------------------------------

    def once(
        self,
        message_id: str,
        digest: str,
        act: Callable[[Stores], JournalEntry],
    ) -> tuple[JournalEntry, bool]:
        """Act for a new message id, or return the entry of a repeated one (and count it).

        Returns the entry and whether this call acted.
        """
        with self.lock:
            entry = self.journal.get(message_id)
            if entry is not None:
                if entry.digest != digest:
                    raise DigestMismatch(message_id)
                entry.received_count += 1
                entry.last_received_at = utcnow()
                return entry, False
            entry = act(self.stores)
            self.journal[message_id] = entry
            return entry, True

    def entries(self, message_id: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                e.to_json()
                for e in self.journal.values()
                if (not message_id or e.message_id == message_id) and (not operation or e.operation == operation)
            ]

    def stored(self) -> dict[str, Any]:
        with self.lock:
            return {
                "sms": list(self.stores.sms.values()),
                "cases": list(self.stores.cases.values()),
                "records": {k: list(v) for k, v in self.stores.records.items()},
                "payments": [dict(p) for p in self.stores.payments.values()],
            }
