"""The resident roster import (居民信息导入): the CSV or XLSX file a community office keeps, with one
resident a row (ID number, name, phone, address, household number, community).

:func:`start_import` reads and checks the whole file at once and keeps the rows that pass; every
refused row is reported with why (a wrong GB 11643 check digit, an unknown community, a duplicate
of an earlier row, a malformed phone, ...). :func:`apply_chunk` then adds or updates the accepted
rows a chunk at a time (or only compares them, in a dry run), so that the console and the command
line show progress. A row that matches the resident on record changes nothing, so importing the
same file twice changes nothing; an empty cell never erases what is on record; a name that differs
from the one on record for that ID number is refused rather than overwritten (the citizen registry,
not the roster, is the authority on names).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zipfile import BadZipFile

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju import idnumber
from huiju.db import Database, utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import ImportStatus, Org, OrgLevel, Resident, Role, RosterImport
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.registration import PHONE

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
CHUNK = 500
# SQLite binds at most 32,766 variables in one statement; a chunk stays far below.
_LIMITS = {"name": 50, "address": 200, "household": 32}

#: The column headings community offices use, for each field (compared without spaces, any case).
HEADINGS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "证件号码", "idnumber", "id_number"),
    "name": ("姓名", "name"),
    "phone": ("联系电话", "手机号", "手机号码", "电话", "phone"),
    "address": ("居住地址", "现住址", "地址", "address"),
    "household": ("户号", "household"),
    "community": ("所属社区", "社区", "community"),
}
REQUIRED = ("id_number", "name", "community")

#: Why a row is refused, by code: the words, given the details kept with the refusal.
REASONS: dict[str, Callable[..., Message]] = {
    "name_missing": lambda: _("the name is missing"),
    "too_long": lambda field, n: _("the {field} is longer than {n} characters", field=FIELD_NAMES[field], n=n),
    "community_missing": lambda: _("the community is missing"),
    "community_unknown": lambda community: _("unknown community {community}", community=community),
    "phone_malformed": lambda phone: _("{phone} is not a mainland mobile number (11 digits)", phone=phone),
    "duplicate": lambda row: _("the same ID number as row {row}", row=row),
    "name_conflict": lambda name: _(
        "the name differs from the resident on record for this ID number ({name})", name=name
    ),
}
#: The fields a reason may name, in words.
FIELD_NAMES: dict[str, Message] = {"name": _("name"), "address": _("address"), "household": _("household number")}


def _mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else name


@dataclass(frozen=True)
class Refusal:
    row: int
    name: str
    id_number: str  # masked
    reasons: list[dict[str, Any]]  # {"code", "msgid", "params"}

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "name": self.name, "id_number": self.id_number, "reasons": self.reasons}


def reason(code: str, **params: Any) -> dict[str, Any]:
    return {"code": code, "params": params}


def reason_text(item: dict[str, Any], locale: str | None) -> str:
    """A refusal reason in words, in ``locale``: one of :data:`REASONS`, or what the ID number check said."""
    params = dict(item.get("params") or {})
    words = REASONS.get(str(item["code"]))
    if words is not None:
        return words(**params).localize(locale)
    return Message(str(item["msgid"]), **params).localize(locale)


# --- reading the file -------------------------------------------------------------------------------


def _heading(text: Any) -> str:
    return re.sub(r"\s+", "", str(text or "")).lower()


def _fields(headings: list[Any]) -> dict[str, int]:
    """Column index of each field; refused when a required column is missing."""
    wanted = {_heading(alias): field for field, aliases in HEADINGS.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, text in enumerate(headings):
        field = wanted.get(_heading(text))
        if field is not None and field not in found:
            found[field] = index
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        names = " / ".join(HEADINGS[missing[0]][:3])
        raise InputError(_("the file has no column {column}; the first row must name the columns", column=names))
    return found


def _decode(data: bytes) -> str:
    # Spreadsheets here save CSV as UTF-8 (with or without a byte-order mark) or as GB 18030 (GBK).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(_("the file is neither UTF-8 nor GB 18030 text"))


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    yield from csv.reader(io.StringIO(_decode(data), newline=""))


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # only for .xlsx files
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(_("the file is not a readable XLSX workbook ({error})", error=str(exc)[:200])) from exc
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        book.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone typed into a number cell
    return str(value).strip()


def read_rows(file_name: str, data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number in the file, {field: text}) for each non-empty data row."""
    if len(data) > MAX_FILE_BYTES:
        raise InputError(_("the file is larger than {size} MB", size=MAX_FILE_BYTES // (1024 * 1024)))
    lower = file_name.lower()
    if lower.endswith(".xlsx"):
        rows: Iterator[list[Any]] = _xlsx_rows(data)
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        rows = _csv_rows(data)
    else:
        raise InputError(_("a roster is a .csv or .xlsx file, not {name}", name=file_name))
    fields: dict[str, int] | None = None
    for number, values in enumerate(rows, start=1):
        if fields is None:
            if not any(_cell(v) for v in values):
                continue
            fields = _fields(values)
            continue
        cells = {f: _cell(values[i]) if i < len(values) else "" for f, i in fields.items()}
        if any(cells.values()):
            yield number, cells
    if fields is None:
        raise InputError(_("the file is empty"))


# --- checking -------------------------------------------------------------------------------------


def normalize_phone(text: str) -> str:
    """11 digits, without spaces, dashes or the +86 prefix (as registration reads a phone)."""
    phone = re.sub(r"[\s-]", "", text)
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == 11 + len(prefix):
            phone = phone[len(prefix) :]
    return phone


def _communities(session: Session) -> dict[str, int]:
    found: dict[str, int] = {}
    for org in session.scalars(select(Org).where(Org.level == OrgLevel.COMMUNITY)):
        found[org.code] = org.id
        found[org.name] = org.id
    return found


def check_row(
    row: dict[str, str], communities: dict[str, int]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str]:
    """The checked row (or None) and the reasons it is refused; also the ID number as far as readable."""
    reasons: list[dict[str, Any]] = []
    number = idnumber.normalize(row.get("id_number", ""))
    try:
        number = idnumber.validate(row.get("id_number", ""))
    except InputError as exc:
        text = exc.text if isinstance(exc.text, Message) else Message(str(exc.text))
        code = "check_digit" if exc.details.get("reason") == "checksum" else "id_number"
        reasons.append({"code": code, "msgid": text.msgid, "params": dict(text.params)})
    name = row.get("name", "")
    if not name:
        reasons.append(reason("name_missing"))
    for field, limit in _LIMITS.items():
        if len(row.get(field, "")) > limit:
            reasons.append(reason("too_long", field=field, n=limit))
    community = row.get("community", "")
    community_id = communities.get(community)
    if not community:
        reasons.append(reason("community_missing"))
    elif community_id is None:
        reasons.append(reason("community_unknown", community=community))
    phone = normalize_phone(row.get("phone", ""))
    if phone and not PHONE.match(phone):
        reasons.append(reason("phone_malformed", phone=row.get("phone", "")))
    if reasons:
        return None, reasons, number
    checked = {
        "id_number": number,
        "name": name,
        "phone": phone or None,
        "address": row.get("address") or None,
        "household": row.get("household") or None,
        "community_id": community_id,
    }
    return checked, [], number


def _admin(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators import the resident roster"))


def start_import(session: Session, actor: Actor, file_name: str, data: bytes, *, dry_run: bool) -> RosterImport:
    """Read and check the whole file; keep the accepted rows for :func:`apply_chunk`."""
    _admin(actor)
    file_name = (file_name or "roster").strip()[-200:]
    communities = _communities(session)
    accepted: list[dict[str, Any]] = []
    refusals: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    total = 0
    for number, row in read_rows(file_name, data):
        total += 1
        if total > MAX_ROWS:
            raise InputError(_("the file has more than {n} rows; split it", n=MAX_ROWS))
        checked, reasons, id_number = check_row(row, communities)
        if id_number in first_row and id_number:
            reasons.append(reason("duplicate", row=first_row[id_number]))
            checked = None
        elif id_number:
            first_row[id_number] = number
        if checked is None:
            refused = Refusal(number, _mask_name(row.get("name", "")), idnumber.mask(id_number) if len(id_number) == 18
                              else id_number[:6] + "…", reasons)  # fmt: skip
            refusals.append(refused.as_json())
            continue
        accepted.append({"row": number, **checked})
    if total == 0:
        raise InputError(_("the file has no data rows"))
    job = RosterImport(
        file_name=file_name, file_sha256=hashlib.sha256(data).hexdigest(), dry_run=dry_run,
        status=ImportStatus.READY, total=total, processed=0, added=0, updated=0, unchanged=0,
        rows=accepted, refusals=refusals, started_by=actor.username,
    )  # fmt: skip
    session.add(job)
    session.flush()
    return job


def get_import(session: Session, actor: Actor, import_id: int) -> RosterImport:
    _admin(actor)
    job = session.get(RosterImport, import_id)
    if job is None:
        raise NotFoundError(_("no roster import {id}", id=import_id))
    return job


def recent_imports(session: Session, actor: Actor, limit: int = 20) -> list[RosterImport]:
    _admin(actor)
    return list(session.scalars(select(RosterImport).order_by(RosterImport.id.desc()).limit(limit)))


_COMPARED = ("phone", "address", "household", "community_id")


def apply_chunk(session: Session, actor: Actor, import_id: int, *, size: int = CHUNK) -> RosterImport:
    """Add or update the next ``size`` accepted rows (in a dry run, only count what would change)."""
    job = get_import(session, actor, import_id)
    if job.status is ImportStatus.DONE:
        raise ConflictError(_("roster import {id} is finished already", id=import_id))
    rows = job.rows[job.processed : job.processed + max(1, size)]
    existing = {
        r.id_number: r
        for r in session.scalars(select(Resident).where(Resident.id_number.in_([row["id_number"] for row in rows])))
    }
    refusals = list(job.refusals)
    added = updated = unchanged = 0
    for row in rows:
        resident = existing.get(row["id_number"])
        if resident is None:
            added += 1
            if not job.dry_run:
                session.add(Resident(
                    id_number=row["id_number"], name=row["name"], phone=row["phone"], address=row["address"],
                    household=row["household"], community_id=row["community_id"],
                    birth_date=idnumber.birth_date(row["id_number"]),
                ))  # fmt: skip
            continue
        if resident.name != row["name"]:
            refusals.append(Refusal(row["row"], _mask_name(row["name"]), idnumber.mask(row["id_number"]),
                                    [reason("name_conflict", name=_mask_name(resident.name))]).as_json())  # fmt: skip
            continue
        # An empty cell says nothing: what is on record stays.
        changes = {f: row[f] for f in _COMPARED if row[f] is not None and getattr(resident, f) != row[f]}
        if not changes:
            unchanged += 1
            continue
        updated += 1
        if not job.dry_run:
            for field, value in changes.items():
                setattr(resident, field, value)
    job.processed += len(rows)
    job.added += added
    job.updated += updated
    job.unchanged += unchanged
    if len(refusals) != len(job.refusals):
        job.refusals = sorted(refusals, key=lambda r: int(r["row"]))
    job.status = ImportStatus.RUNNING
    if job.processed >= len(job.rows):
        _finish(session, actor, job)
    session.flush()
    return job


def _finish(session: Session, actor: Actor, job: RosterImport) -> None:
    job.status = ImportStatus.DONE
    job.finished_at = utcnow()
    audit.record(
        session, actor, "roster.import", target_kind="roster_import", target=str(job.id),
        after={"file": job.file_name, "sha256": job.file_sha256, "dry_run": job.dry_run, "rows": job.total,
               "added": job.added, "updated": job.updated, "unchanged": job.unchanged,
               "refused": len(job.refusals)},
    )  # fmt: skip


def run_import(
    db: Database, actor: Actor, import_id: int, *, progress: Callable[[int, int], None] | None = None
) -> RosterImport:
    """Apply every chunk, one transaction each (the command line); ``progress(done, total)`` after each."""
    while True:
        with db.transaction() as session:
            job = apply_chunk(session, actor, import_id)
            done, total, finished = job.processed, len(job.rows), job.status is ImportStatus.DONE
        if progress is not None:
            progress(done, total)
        if finished:
            with db.sessions() as session:
                return get_import(session, actor, import_id)
