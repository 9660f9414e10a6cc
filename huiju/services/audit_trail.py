"""Reading the audit trail (审计日志): search, export as CSV, and verify the hash chain (PIPL art. 51–55).

The entries are written by :mod:`huiju.services.audit`; this module is for administrators who read
them, and for ``huiju audit verify``. :func:`verify` recomputes every entry's SHA-256 (the canonical
form of :func:`huiju.services.audit.entry_hash`) and link, oldest first, and names the first entry
that was altered, removed or reordered.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from exchange.log import ChainReport as LogChainReport
from exchange.log import ChainWording, walk_chain
from huiju.calendar import CHINA
from huiju.db import Database
from huiju.errors import InputError, PermissionDenied
from huiju.i18n import Message, _, localize
from huiju.models import AuditEntry, Resident, Role
from huiju.models.audit import HASHED_FIELDS
from huiju.services.actors import Actor
from huiju.services.audit import ACTIONS, action_label, channel_label, entry_hash, record

MAX_SEARCH = 500


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


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
class ChainReport(LogChainReport):
    """What :func:`verify` found (the message log's report, worded for the audit trail)."""

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


#: How the audit trail words a broken chain: an altered entry is named by who did what, when.
_AUDIT_WORDING = ChainWording(
    missing_before=lambda entry: _("audit entries missing before entry {entry}", entry=entry),
    missing_between=lambda previous, entry: _(
        "audit entries missing between {previous} and {entry}", previous=previous, entry=entry
    ),
    altered=lambda entry, values: _("audit entry {entry} was altered ({what})", entry=entry, what=_describe(values)),
    not_first=lambda entry, values: _(
        "audit entry {entry} does not follow the entry before it ({what})", entry=entry, what=_describe(values)
    ),
    out_of_place=lambda entry, _previous, values: _(
        "audit entry {entry} does not follow the entry before it ({what})", entry=entry, what=_describe(values)
    ),
)


def verify(session: Session, *, batch: int = 1000) -> ChainReport:
    """Recompute every hash and link, oldest first; stop at the first entry out of place and name it."""
    return walk_chain(session, _COLUMNS, _TABLE.c.id, _hash_matches, _AUDIT_WORDING, report=ChainReport, batch=batch)


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
