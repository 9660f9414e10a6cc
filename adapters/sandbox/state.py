"""The sandbox's memory: the message journal, injected faults and what each system stored.

Exactly-once as the receiver sees it: the journal is keyed by the exchange header's messageId.
The first request under an id acts and its reply is stored; a repeat with the same Body (same
SHA-256 of the exclusive-c14n Body) gets the stored reply and acts again never; a repeat with
another Body is refused. One lock guards everything, so concurrent duplicates also act once.
In secure mode, requests refused before acting (signature, certificate, timestamp, reused id)
are kept apart in ``refusals``, never in the journal.

With a data folder the journal, the stores and the callbacks owed are also kept on disk
(:mod:`.durable`) and read back when the sandbox starts again: it behaves like a durable system.
Refusals stay in memory; injected faults and lost-callback rules are kept on disk too, so that a
fault-injection test's plan survives the restarts it causes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.sandbox.durable import Disk, StoredRow
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

    def to_disk(self) -> dict[str, Any]:
        return {**self.to_json(), "http_status": self.http_status}

    @classmethod
    def from_disk(cls, data: dict[str, Any], reply: bytes) -> JournalEntry:
        return cls(
            message_id=data["message_id"], system=data["system"], operation=data["operation"],
            digest=data["digest"], request=data["request"], response=data["response"], outcome=data["outcome"],
            reply=reply, http_status=int(data["http_status"]),
            first_received_at=datetime.fromisoformat(data["first_received_at"]),
            last_received_at=datetime.fromisoformat(data["last_received_at"]),
            received_count=int(data["received_count"]),
        )  # fmt: skip


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
    """What the systems keep; handlers change it through the methods, so that what one request
    changed (``changed``) can be written to disk with its journal entry."""

    sms: dict[str, dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The extranet's next decision per case number (set through the control API).
    presets: dict[str, dict[str, str]] = field(default_factory=dict)
    #: How many of the next callbacks of an operation get lost (fault injection).
    drops: dict[str, int] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)  # the payment platform's (O2O)
    counter: int = 0
    changed: list[StoredRow] = field(default_factory=list)

    def next_number(self) -> int:
        self.counter += 1
        self.changed.append(StoredRow("meta", "counter", {"counter": self.counter}))
        return self.counter

    def put_sms(self, sms_id: str, sms: dict[str, Any]) -> None:
        self.sms[sms_id] = sms
        self.changed.append(StoredRow("sms", sms_id, sms))

    def put_case(self, receipt_number: str, case: dict[str, Any]) -> None:
        self.cases[receipt_number] = case
        self.changed.append(StoredRow("cases", receipt_number, case))

    def add_record(self, dataset: str, record: dict[str, Any]) -> None:
        self.records.setdefault(dataset, []).append(record)
        self.changed.append(StoredRow("records", str(record["record_id"]), {"dataset": dataset, "record": record}))

    def put_payment(self, payment_id: str, payment: dict[str, Any]) -> None:
        self.payments[payment_id] = payment
        self.changed.append(StoredRow("payments", payment_id, payment))

    def put_drops(self, operation: str, count: int) -> None:
        self.drops[operation] = count
        self.changed.append(StoredRow("drops", operation, {"count": count}))

    def take_drop(self, operation: str) -> bool:
        """Whether the callback of ``operation`` now being owed is to be lost (and one fewer after it)."""
        if self.drops.get(operation, 0) <= 0:
            return False
        self.put_drops(operation, self.drops[operation] - 1)
        return True

    def put_preset(self, case_number: str, decision: str, reason: str) -> None:
        self.presets[case_number] = {"decision": decision, "reason": reason}
        self.changed.append(StoredRow("presets", case_number, self.presets[case_number]))

    def take_preset(self, case_number: str) -> tuple[str, str] | None:
        preset = self.presets.pop(case_number, None)
        if preset is None:
            return None
        self.changed.append(StoredRow("presets", case_number, {"taken": True}))
        return preset["decision"], preset["reason"]

    def load(self, row: StoredRow) -> None:
        if row.kind == "drops":
            self.drops[row.key] = int(row.value["count"])
        elif row.kind == "presets":
            if not row.value.get("taken"):
                self.presets[row.key] = {"decision": str(row.value["decision"]), "reason": str(row.value["reason"])}
        elif row.kind == "meta":
            self.counter = int(row.value["counter"])
        elif row.kind == "sms":
            self.sms[row.key] = row.value
        elif row.kind == "cases":
            self.cases[row.key] = row.value
        elif row.kind == "payments":
            self.payments[row.key] = row.value
        elif row.kind == "records":
            self.records.setdefault(str(row.value["dataset"]), []).append(row.value["record"])

    def take_changes(self) -> list[StoredRow]:
        changes, self.changed = self.changed, []
        return changes


#: What an act owes besides its reply: the callbacks to send (as :meth:`Callback.to_json` gives them).
Owed = list[dict[str, Any]]


class SandboxState:
    """In memory, and with ``folder`` also on disk (read back at start-up)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.journal: dict[str, JournalEntry] = {}
        self.faults: list[FaultRule] = []
        self.refusals: list[Refusal] = []
        self.stores = Stores()
        self.disk = Disk(folder) if folder is not None else None
        if self.disk is not None:
            for data, reply in self.disk.journal():
                entry = JournalEntry.from_disk(data, reply)
                self.journal[entry.message_id] = entry
            for row in self.disk.stored():
                if row.kind == "control":
                    self.faults = [FaultRule(r["operation"], r["mode"], r["count"], r["seconds"])
                                   for r in row.value["rules"]]  # fmt: skip
                else:
                    self.stores.load(row)

    def reset(self) -> None:
        with self.lock:
            self.journal.clear()
            self.faults.clear()
            self.refusals.clear()
            self.stores = Stores()
            if self.disk is not None:
                self.disk.clear()

    def owed_callbacks(self) -> list[dict[str, Any]]:
        """Every callback kept on disk (owed or sent), oldest first: what a restarted sandbox resumes."""
        return self.disk.callbacks() if self.disk is not None else []

    def save_callback(self, callback: dict[str, Any]) -> None:
        if self.disk is not None:
            self.disk.save_callback(callback)

    def preset(self, case_number: str, decision: str, reason: str) -> None:
        """The extranet's next decision on a case (kept on disk like its other records)."""
        with self.lock:
            self.stores.take_changes()
            self.stores.put_preset(case_number, decision, reason)
            changes = self.stores.take_changes()
            if self.disk is not None:
                self.disk.commit_act(None, changes, [])

    def change(self, act: Callable[[Stores], Owed]) -> Owed:
        """Change the stores outside a request (the control API); the changes and the callbacks they
        owe are kept on disk in one transaction, as a request's are."""
        with self.lock:
            self.stores.take_changes()
            owed = act(self.stores)
            changes = self.stores.take_changes()
            if self.disk is not None:
                self.disk.commit_act(None, changes, owed)
            return owed

    def refuse(self, refusal: Refusal) -> None:
        with self.lock:
            self.refusals.append(refusal)

    def refused(self, message_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r.to_json() for r in self.refusals if not message_id or r.message_id == message_id]

    # --- faults on demand ----------------------------------------------------------------------

    # Kept on disk too, so that a fault-injection test's plan survives the restarts it causes.

    def _save_faults(self) -> None:
        if self.disk is not None:
            rules = [r.to_json() for r in self.faults]
            self.disk.commit_act(None, [StoredRow("control", "faults", {"rules": rules})], [])

    def add_fault(self, rule: FaultRule) -> None:
        with self.lock:
            self.faults.append(rule)
            self._save_faults()

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self._save_faults()

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
                    self._save_faults()
                return FaultRule(rule.operation, rule.mode, rule.remaining, rule.seconds)
        return None

    def drop_callbacks(self, operation: str, count: int) -> None:
        """The next ``count`` callbacks of ``operation`` get lost (kept on disk like the stores)."""
        with self.lock:
            self.stores.take_changes()
            self.stores.put_drops(operation, self.stores.drops.get(operation, 0) + count)
            changes = self.stores.take_changes()
            if self.disk is not None:
                self.disk.commit_act(None, changes, [])

    # --- the journal ---------------------------------------------------------------------------

    def once(
        self,
        message_id: str,
        digest: str,
        act: Callable[[Stores], tuple[JournalEntry, Owed]],
    ) -> tuple[JournalEntry, bool, Owed]:
        """Act for a new message id, or return the entry of a repeated one (and count it).

        Returns the entry, whether this call acted, and the callbacks the act owes (kept on disk with
        the entry, in one transaction, before anything is answered).
        """
        with self.lock:
            entry = self.journal.get(message_id)
            if entry is not None:
                if entry.digest != digest:
                    raise DigestMismatch(message_id)
                entry.received_count += 1
                entry.last_received_at = utcnow()
                if self.disk is not None:
                    self.disk.update_journal(message_id, entry.to_disk())
                return entry, False, []
            self.stores.take_changes()
            entry, owed = act(self.stores)
            changes = self.stores.take_changes()
            if self.disk is not None:
                self.disk.commit_act((message_id, entry.to_disk(), entry.reply), changes, owed)
            self.journal[message_id] = entry
            return entry, True, owed

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
