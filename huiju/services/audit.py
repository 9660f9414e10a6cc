"""The audit trail (审计日志): record, search, export and verify (PIPL art. 51–55).

Every administrative and officer action is recorded by the service that performs it, in the same
transaction (:func:`record`), so that an action and its entry are written together or not at all.
Every read of a resident's personal data (a case file, a material, an identity) is recorded in a
short transaction of its own (:func:`record_read`), because reads run in read-only sessions.

Entries are chained like the message log (:mod:`exchange.log`): the SHA-256 of each entry covers its
fields (:data:`huiju.models.audit.HASHED_FIELDS`, serialised as canonical JSON: sorted keys, no
insignificant whitespace, UTF-8, times as ISO 8601 UTC with microseconds) and the hash of the entry
before it (the first one follows :data:`GENESIS_HASH`). Ids are a gapless sequence assigned under a
lock. :func:`verify` recomputes the chain and names the first entry that was altered, removed or
reordered.

Where an action came from (console, portal, API, command line, and the client's address) is set
once per request by the front end (:func:`set_origin`); what a worker does is marked ``system``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, select, text, type_coerce
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.db import WRITE_OPTION, Database, utcnow
from huiju.errors import ConfigurationError, InputError, PermissionDenied
from huiju.i18n import Message, _, localize
from huiju.models import AuditEntry, Case, Resident, Role
from huiju.models.audit import HASHED_FIELDS
from huiju.services.actors import Actor

GENESIS_HASH = "0" * 64
MAX_SEARCH = 500
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
    """For a web request: the origin of what it records (a new request context starts afresh)."""
    _ORIGIN.set(Origin(channel, (address or None) and str(address)[:64]))


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
    last = session.execute(select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    entry.id = 1 if last is None else last.id + 1
    entry.prev_hash = GENESIS_HASH if last is None else last.entry_hash
    entry.entry_hash = entry_hash({name: getattr(entry, name) for name in HASHED_FIELDS})
    session.add(entry)
    session.flush()
    return entry


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
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> AuditEntry | None:
    """An action on a human task (claim, release, transfer, decision), recorded against its case."""
    case = session.get(Case, task.case_id) if task.case_id is not None else None
    before = {"step": task.step, "assignee": task.assignee}
    if case is None:
        return record(session, actor, action, target_kind="task", target=task.id, before=before, after=after,
                      detail=detail)  # fmt: skip
    before["case_status"] = case.status.value
    return record_case(session, actor, action, case, target_kind="task", target=task.id, before=before,
                       after=after, detail=detail)  # fmt: skip


# --- reading ---------------------------------------------------------------------------------------


def _administrator(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators read the audit trail"))


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    case_number: str | None = None
    target: str | None = None
    id_number: str | None = None  # whose data: a resident's ID number
    since: date | None = None  # China dates, inclusive
    until: date | None = None


def _china_start(day: date) -> datetime:
    return datetime.combine(day, time(), CHINA)


def _statement(session: Session, filters: AuditFilter) -> Any:
    stmt = select(AuditEntry)
    if filters.actor:
        stmt = stmt.where(AuditEntry.actor == filters.actor.strip())
    if filters.action:
        if filters.action not in ACTIONS:
            raise InputError(_("unknown audit action {action}", action=repr(filters.action)))
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.case_number:
        stmt = stmt.where(AuditEntry.case_number == filters.case_number.strip())
    if filters.target:
        stmt = stmt.where(AuditEntry.target == filters.target.strip())
    if filters.id_number:
        from huiju import idnumber

        number = idnumber.validate(filters.id_number)
        resident = session.scalar(select(Resident.id).where(Resident.id_number == number))
        stmt = stmt.where(AuditEntry.resident_id == (resident if resident is not None else -1))
    if filters.since:
        stmt = stmt.where(AuditEntry.at >= _china_start(filters.since))
    if filters.until:
        stmt = stmt.where(AuditEntry.at < _china_start(filters.until + timedelta(days=1)))
    return stmt


def search(
    session: Session, actor: Actor, filters: AuditFilter, *, limit: int = 100, offset: int = 0
) -> list[AuditEntry]:
    """Entries matching every filter, newest first (administrators only)."""
    _administrator(actor)
    if not 1 <= limit <= MAX_SEARCH:
        raise InputError(_("the limit must be between 1 and {maximum}", maximum=MAX_SEARCH))
    stmt = _statement(session, filters).order_by(AuditEntry.id.desc()).limit(limit).offset(max(offset, 0))
    return list(session.scalars(stmt))


CSV_COLUMNS: tuple[tuple[str, Message], ...] = (
    ("id", _("entry")),
    ("at", _("time (Beijing)")),
    ("actor", _("acted by")),
    ("role", _("role")),
    ("channel", _("channel")),
    ("address", _("address")),
    ("action", _("action")),
    ("target", _("target")),
    ("case_number", _("case")),
    ("definition", _("definition")),
    ("before", _("before")),
    ("after", _("after")),
    ("detail", _("detail")),
    ("entry_hash", _("hash")),
)


def export_csv(db: Database, actor: Actor, filters: AuditFilter, locale: str | None = None) -> str:
    """Every matching entry as CSV (UTF-8 with a byte-order mark, so that spreadsheets read Chinese),
    oldest first; the export itself is recorded."""
    from huiju.labels import label

    _administrator(actor)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([localize(title, locale) for _name, title in CSV_COLUMNS])
    with db.sessions() as session:
        for entry in session.scalars(_statement(session, filters).order_by(AuditEntry.id)):
            writer.writerow([
                entry.id,
                entry.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
                entry.actor,
                label("role", entry.role, locale),
                channel_label(entry.channel, locale),
                entry.address or "",
                action_label(entry.action, locale),
                f"{entry.target_kind}:{entry.target}",
                entry.case_number or "",
                entry.definition or "",
                entry.before or "",
                entry.after or "",
                entry.detail or "",
                entry.entry_hash,
            ])  # fmt: skip
    with db.transaction() as session:
        record(session, actor, "audit.export", target_kind="audit", target="csv", detail=_json(_described(filters)))
    return out.getvalue()


def _described(filters: AuditFilter) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in vars(filters).items() if v}


# --- verifying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: Message | None = None
    last_id: int | None = None
    last_hash: str = GENESIS_HASH

    def summary(self) -> Message:
        if self.reason is not None:
            return self.reason
        return _("the audit trail is intact: {count} entries", count=self.checked)


_TABLE = AuditEntry.__table__
_COLUMNS = [
    type_coerce(_TABLE.c[name], String()).label(name) if name == "at" else _TABLE.c[name]
    for name in (*HASHED_FIELDS, "entry_hash")
]


def _stored_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _describe(values: Mapping[str, Any]) -> str:
    try:
        at = _stored_time(values["at"]).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        at = str(values["at"])
    return f"{at} {values['actor']} {values['action']} {values['target_kind']}:{values['target']}"


def verify(session: Session, *, batch: int = 1000) -> ChainReport:
    """Recompute every hash and link, oldest first; stop at the first entry out of place and name it."""
    checked = 0
    last_id: int | None = None
    last_hash = GENESIS_HASH
    while True:
        stmt = select(*_COLUMNS).order_by(_TABLE.c.id).limit(batch)
        if last_id is not None:
            stmt = stmt.where(_TABLE.c.id > last_id)
        rows = session.execute(stmt).all()
        for row in rows:
            values: dict[str, Any] = dict(row._mapping)
            entry_id: int = values["id"]
            checked += 1
            reason: Message | None = None
            if last_id is None and entry_id != 1:
                reason = _("audit entries missing before entry {entry}", entry=entry_id)
            elif last_id is not None and entry_id != last_id + 1:
                reason = _("audit entries missing between {previous} and {entry}", previous=last_id, entry=entry_id)
            elif not _hash_matches(values):
                reason = _("audit entry {entry} was altered ({what})", entry=entry_id, what=_describe(values))
            elif values["prev_hash"] != last_hash:
                reason = _("audit entry {entry} does not follow the entry before it ({what})", entry=entry_id,
                           what=_describe(values))  # fmt: skip
            if reason is not None:
                return ChainReport(False, checked, entry_id, reason, last_id, last_hash)
            last_id, last_hash = entry_id, values["entry_hash"]
        if len(rows) < batch:
            return ChainReport(True, checked, last_id=last_id, last_hash=last_hash)


def _hash_matches(values: dict[str, Any]) -> bool:
    try:
        values["at"] = _stored_time(values["at"])
    except ValueError:
        return False
    return bool(entry_hash(values) == values["entry_hash"])


def verify_as(db: Database, actor: Actor) -> ChainReport:
    """:func:`verify` for an administrator, the check itself recorded."""
    _administrator(actor)
    with db.sessions() as session:
        report = verify(session)
    with db.transaction() as session:
        record(session, actor, "audit.verify", target_kind="audit", target="chain",
               detail=localize(report.summary(), "en"))  # fmt: skip
    return report
