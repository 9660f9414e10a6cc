"""The audit trail (审计日志): record, search, export and verify (PIPL art. 51–55).

Every administrative and officer action is recorded by the service that performs it, in the same
transaction (:func:`record`), so that an action and its entry are written together or not at all.
Every read of a resident's personal data (a case file, a material, an identity) is recorded in a
short transaction of its own (:func:`record_read`), because reads run in read-only sessions.

Entries are chained like the message log (:mod:`exchange.log`): the SHA-256 of each entry covers its
fields (:data:`huiju.models.audit.HASHED_FIELDS`, serialised as canonical JSON: sorted keys, no
insignificant whitespace, UTF-8, times as ISO 8601 UTC with microseconds) and the hash of the entry
before it (the first one follows :data:`GENESIS_HASH`). Ids are a gapless sequence assigned under a
lock. Reading them (search, CSV, verifying the chain) is :mod:`huiju.services.audit_trail`'s.

Where an action came from (console, portal, API, command line, and the client's address) is set
once per request by the front end (:func:`set_origin`); what a worker does is marked ``system``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, text
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from huiju.db import WRITE_OPTION, Database, utcnow
from huiju.errors import ConfigurationError
from huiju.i18n import Message, _
from huiju.models import AuditEntry, Case
from huiju.models.audit import HASHED_FIELDS
from huiju.services.actors import Actor

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key of the audit chain: SHA-256("huiju.audit_entry")[:8] as a signed integer.
CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"huiju.audit_entry").digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class Origin:
    channel: str = "system"  # a worker, a timer; the command line and the web set their own
    address: str | None = None


_SYSTEM = Origin()
_ORIGIN: ContextVar[Origin | None] = ContextVar("huiju_audit_origin", default=None)


@contextmanager
def from_origin(channel: str, address: str | None = None) -> Iterator[None]:
    """Entries recorded inside are marked as coming from ``channel`` (and the client's address)."""
    token = _ORIGIN.set(Origin(channel, (address or None) and str(address)[:64]))
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def set_origin(channel: str, address: str | None = None) -> None:
    """For a web request or a command: the origin of what it records, until :func:`clear_origin` (at
    the request's teardown, the command's end). A request served in the caller's thread and context
    (a test client, a command run in-process) would otherwise leave it to what runs next there."""
    _ORIGIN.set(Origin(channel, (address or None) and str(address)[:64]))


def clear_origin(_error: BaseException | None = None) -> None:
    """What is recorded from now on comes from the system again (a teardown callback)."""
    _ORIGIN.set(None)


#: Every action recorded, in words (Chinese in the catalogue); the code stays in the table.
ACTIONS: dict[str, Message] = {
    "case.read": _("read a case file"),
    "case.submit": _("submitted a case"),
    "case.retry": _("retried an incident"),
    "material.read": _("opened a material"),
    "identity.read": _("read an identity"),
    "task.claim": _("claimed a task"),
    "task.release": _("released a task"),
    "task.transfer": _("transferred a task"),
    "task.complete": _("decided a task"),
    "message.retry": _("sent a dead message again"),
    "calendar.set_day": _("entered a calendar day"),
    "calendar.remove_day": _("removed a calendar day"),
    "calendar.import": _("imported a year's schedule"),
    "calendar.publish": _("published a year's schedule"),
    "user.create": _("created an account"),
    "user.update": _("changed an account's role or office"),
    "user.disable": _("disabled an account"),
    "user.enable": _("enabled an account"),
    "user.reset_password": _("reset a password"),
    "user.change_password": _("changed their own password"),
    "roster.import": _("imported a resident roster"),
    "office.create": _("added an office"),
    "audit.export": _("exported the audit trail"),
    "audit.verify": _("verified the audit trail"),
    "adapter.update": _("changed an adapter's settings"),
    "adapter.test": _("tested an adapter's connection"),
    "system.upload": _("uploaded a system's WSDL"),
    "system.map_operation": _("mapped a service operation"),
    "certificate.upload": _("uploaded a partner certificate"),
    "certificate.rotate": _("rotated a certificate"),
    "certificate.revoke": _("revoked a certificate"),
    "certificate.crl": _("refreshed a revocation list"),
    "message_log.verify": _("verified the message log"),
    "process.deploy": _("deployed a process"),
    "case.suspend": _("suspended a case"),
    "case.resume": _("resumed a case"),
    "case.move": _("moved a case to another step"),
    "case.migrate": _("migrated a case to another version"),
    "item.create": _("added an item to the catalogue"),
    "item.update": _("changed a catalogue item"),
    "item.publish": _("published a catalogue item"),
    "item.withdraw": _("withdrew a catalogue item"),
}


#: Where an action came from, in words.
CHANNELS: dict[str, Message] = {
    "console": _("console"),
    "portal": _("portal"),
    "api": _("API"),
    "cli": _("command line"),
    "system": _("system"),
}


def channel_label(code: str, locale: str | None = None) -> str:
    message = CHANNELS.get(code)
    return message.localize(locale) if message is not None else code


def action_label(code: str, locale: str | None = None) -> str:
    message = ACTIONS.get(code)
    return message.localize(locale) if message is not None else code


# --- writing ---------------------------------------------------------------------------------------


def _json(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _canonical(values: Mapping[str, Any]) -> bytes:
    document: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = values[name]
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime in an audit entry")
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        document[name] = value
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(values)).hexdigest()


def _lock_chain(session: Session) -> None:
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    elif dialect == "sqlite":
        if not connection.get_execution_options().get(WRITE_OPTION):
            raise ConfigurationError(_("the audit trail is appended to only inside a write transaction"))
    else:
        raise ConfigurationError(_("the audit trail does not support the {dialect} database", dialect=dialect))


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_kind: str,
    target: str,
    case_number: str | None = None,
    definition: str | None = None,
    resident_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's write transaction (the chain stays locked until it ends)."""
    origin = _ORIGIN.get() or _SYSTEM
    entry = AuditEntry(
        at=utcnow(),
        actor=_clip(actor.username, 64) or "",
        role=actor.role.value,
        channel=origin.channel,
        address=origin.address,
        action=action,
        target_kind=target_kind,
        target=_clip(str(target), 128) or "",
        case_number=case_number,
        definition=_clip(definition, 128),
        resident_id=resident_id,
        before=_json(before),
        after=_json(after),
        detail=detail,
    )
    _lock_chain(session)
    database = str(session.connection().engine.url)
    head = _HEADS.get(database)
    if head is None or not _append_after(session, entry, head):  # written in one statement if it was the head
        last = session.execute(
            select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
        ).first()
        _chain(entry, (last.id, last.entry_hash) if last is not None else (0, GENESIS_HASH))
        session.add(entry)
        session.flush()
    _HEADS[database] = (entry.id, entry.entry_hash)
    return entry


#: The chain's last entry as this process last appended it, by database: (id, hash). The next append
#: of this process writes its entry only if that is still the last one, checked in its own INSERT;
#: otherwise (another process appended since, or the transaction was rolled back) it reads the head.
_HEADS: dict[str, tuple[int, str]] = {}
AUDIT = cast(Table, AuditEntry.__table__)
_APPEND_AFTER: dict[str, Any] = {}  # the guarded insert, built once per dialect


def _chain(entry: AuditEntry, head: tuple[int, str]) -> None:
    entry.id = head[0] + 1
    entry.prev_hash = head[1]
    entry.entry_hash = entry_hash({name: getattr(entry, name) for name in HASHED_FIELDS})


def _append_after(session: Session, entry: AuditEntry, head: tuple[int, str]) -> bool:
    """Write ``entry`` after ``head`` if ``head`` is the chain's last entry (True), else nothing."""
    _chain(entry, head)
    connection = session.connection()
    dialect = connection.dialect.name
    statement = _APPEND_AFTER.get(dialect)
    if statement is None:
        last_hash = select(AUDIT.c.entry_hash).order_by(AUDIT.c.id.desc()).limit(1).scalar_subquery()
        values: list[Any] = [bindparam(c.name, type_=c.type) for c in AUDIT.columns]
        if dialect == "postgresql":  # a parameter in a select list has no type of its own there
            values = [sql_cast(value, column.type) for value, column in zip(values, AUDIT.columns, strict=True)]
        statement = (
            insert(AUDIT)
            .from_select(
                [c.name for c in AUDIT.columns],
                select(*values).where(func.coalesce(last_hash, GENESIS_HASH) == bindparam("expected_head")),
            )
            .returning(AUDIT.c.id)
        )  # the row count of INSERT ... SELECT is not told by every driver
        _APPEND_AFTER[dialect] = statement
    done = connection.execute(
        statement, {**{c.name: getattr(entry, c.name) for c in AUDIT.columns}, "expected_head": head[1]}
    )
    return done.first() is not None


def record_read(
    db: Database,
    actor: Actor,
    action: str,
    *,
    target_kind: str,
    target: str,
    case_number: str | None = None,
    resident_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Record a read of personal data, in a transaction of its own (the read itself wrote nothing)."""
    with db.transaction() as session:
        record(session, actor, action, target_kind=target_kind, target=target, case_number=case_number,
               resident_id=resident_id, detail=detail)  # fmt: skip


def record_case(
    session: Session,
    actor: Actor,
    action: str,
    case: Case,
    *,
    target_kind: str = "case",
    target: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """An action on a case (or one of its tasks): the case number and whose data it is come with it."""
    return record(session, actor, action, target_kind=target_kind, target=target or case.number,
                  case_number=case.number, resident_id=case.applicant_id, before=before, after=after,
                  detail=detail)  # fmt: skip


def record_task(
    session: Session,
    actor: Actor,
    action: str,
    task: Any,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> AuditEntry | None:
    """An action on a human task (claim, release, transfer, decision), recorded against its case; its
    step and holder are the task's as it is, unless ``before`` says otherwise (whoever held it before
    a claim, a release or a transfer changed that)."""
    case = session.get(Case, task.case_id) if task.case_id is not None else None
    before = {"step": task.step, "assignee": task.assignee, **(before or {})}
    if case is None:
        return record(session, actor, action, target_kind="task", target=task.id, before=before, after=after,
                      detail=detail)  # fmt: skip
    before["case_status"] = case.status.value
    return record_case(session, actor, action, case, target_kind="task", target=task.id, before=before,
                       after=after, detail=detail)  # fmt: skip
