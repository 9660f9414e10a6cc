"""The message log (报文日志): every message in and out, chained by hash so that tampering shows.

Modelled on X-Road's message log: each entry keeps what went over the wire (the raw SOAP
envelope), its exchange header (client, service, message id, user, case), the signature check and
the delivery outcome, and the SHA-256 of the entry before it. Changing, removing or reordering any
entry breaks the chain at that point, and :func:`verify_chain` names where.

The hash of an entry is SHA-256 over a canonical serialisation of :data:`HASHED_FIELDS` (its
``prev_hash`` included): JSON with sorted keys, no insignificant whitespace, UTF-8, timestamps as
ISO 8601 in UTC with microseconds and offset (``2026-05-01T08:00:00.000000+00:00``), enumerations
as their values, absent values as ``null``. The first entry's ``prev_hash`` is :data:`GENESIS_HASH`.

Ids are a gapless sequence assigned by :func:`append` under the chain lock, not by a database
sequence: PostgreSQL sequences skip the numbers of rolled-back transactions, and a gap must mean
that an entry was removed. The primary key also keeps the chain linear if a caller ever appends
without the lock: the second of two writers that read the same last entry fails instead of forking.

The chain proves the log intact up to its last entry; removing entries from the end leaves no
gap behind. :class:`ChainReport` gives the last id and hash, which an operator can record elsewhere
(as X-Road anchors its log with time-stamps) to detect that too.

Envelopes are stored compressed (``envelope_zlib``, see :mod:`exchange.packing`): signed SOAP is
mostly markup and base64 that repeats, and the log keeps every message. The hash is taken over the
envelope's text, as before, so :func:`verify_chain` decompresses each envelope and proves the exact
text that went over the wire; a stored value that does not decompress is an altered entry.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Required, TypedDict, TypeVar, Unpack, cast

from sqlalchemy import Enum, Index, LargeBinary, String, Table, Text, insert, or_, select, text, type_coerce
from sqlalchemy.orm import Mapped, Session, mapped_column

from exchange.packing import compress_envelope, decompress_envelope
from huiju.db import WRITE_OPTION, Base, UTCDateTime, utcnow
from huiju.errors import ExchangeError, InputError
from huiju.i18n import Message, _

GENESIS_HASH = "0" * 64
MAX_QUERY_LIMIT = 1000
# pg_advisory_xact_lock key of the message log chain: the first 8 bytes of SHA-256("huiju.message_log")
# as a signed 64-bit integer, so that it does not collide with other advisory locks by chance.
CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"huiju.message_log").digest()[:8], "big", signed=True)


def _values(members: Iterable[enum.Enum]) -> list[str]:
    return [str(member.value) for member in members]


class Direction(enum.StrEnum):
    OUT = "out"  # Huiju sent it
    IN = "in"  # Huiju received it


class Kind(enum.StrEnum):
    REQUEST = "request"  # a call to a government system
    REPLY = "reply"  # its answer
    CALLBACK = "callback"  # a call from a government system to the inbound endpoint
    REFUSAL = "refusal"  # the SOAP Fault Huiju answered a refused callback with


class SignatureStatus(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    ABSENT = "absent"
    NOT_CHECKED = "not_checked"  # outgoing (signed by Huiju) or refused before the check


class Outcome(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    TRANSIENT_FAILURE = "transient_failure"
    PERMANENT_FAILURE = "permanent_failure"
    REFUSED = "refused"
    ACCEPTED = "accepted"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    # Stored as the values ("out", "not_checked"), which is also what the hash covers.
    return Enum(cls, native_enum=False, length=24, values_callable=_values)


class MessageLogEntry(Base):
    __tablename__ = "message_log"
    __table_args__ = (
        Index("ix_message_log_message_id", "message_id"),
        Index("ix_message_log_related_message_id", "related_message_id"),
        Index("ix_message_log_case_number", "case_number"),
        Index("ix_message_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    # The exchange header; any of it may be missing from a refused inbound message.
    message_id: Mapped[str | None] = mapped_column(String(64))
    related_message_id: Mapped[str | None] = mapped_column(String(64))  # the request a reply answers
    system: Mapped[str | None] = mapped_column(String(32))
    operation: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[str | None] = mapped_column(String(64))
    case_number: Mapped[str | None] = mapped_column(String(32))
    # What went over the wire (None if nothing did), compressed: read and set it as ``envelope``.
    envelope_zlib: Mapped[bytes | None] = mapped_column(LargeBinary)
    signature_status: Mapped[SignatureStatus] = mapped_column(_enum(SignatureStatus))
    verification: Mapped[str | None] = mapped_column(Text)  # why a signature is invalid, whose it is
    attempt: Mapped[int]
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome))
    error: Mapped[str | None] = mapped_column(Text)  # the fault or transport error of a failure
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    @property
    def envelope(self) -> str | None:
        """The envelope's text, as it went over the wire (see :func:`compress_envelope`)."""
        return decompress_envelope(self.envelope_zlib)

    @envelope.setter
    def envelope(self, value: str | None) -> None:
        self.envelope_zlib = compress_envelope(value)

    def __repr__(self) -> str:
        return f"<MessageLogEntry {self.id} {self.direction} {self.kind} {self.message_id} {self.outcome}>"


#: The fields an entry's hash covers, in the order they are listed (the JSON sorts them anyway).
HASHED_FIELDS: tuple[str, ...] = (
    "id", "at", "direction", "kind", "message_id", "related_message_id", "system", "operation", "client",
    "service", "user_id", "case_number", "envelope", "signature_status", "verification", "attempt",
    "outcome", "error", "prev_hash",
)  # fmt: skip
_TABLE = cast(Table, MessageLogEntry.__table__)
_ENUM_FIELDS = ("direction", "kind", "signature_status", "outcome")
# Verification reads the enumerations and the timestamp as stored, not through their types: a value
# changed by hand to something no type accepts must show as an altered entry, not stop the check.
_VERIFY_COLUMNS = [
    type_coerce(_TABLE.c[name], String()).label(name) if name in (*_ENUM_FIELDS, "at")
    else _TABLE.c.envelope_zlib.label("envelope") if name == "envelope"
    else _TABLE.c[name]
    for name in (*HASHED_FIELDS, "entry_hash")
]  # fmt: skip


def _stored_time(value: str) -> datetime:
    # SQLite keeps UTC timestamps as naive ISO text; PostgreSQL hands back a datetime anyway.
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a message log entry")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, enum.Enum):
        return value.value
    return value


def canonical_bytes(values: Mapping[str, Any]) -> bytes:
    """The serialisation an entry's hash is taken over (see the module docstring)."""
    document = {name: _canonical_value(values[name]) for name in HASHED_FIELDS}
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(values: Mapping[str, Any]) -> str:
    """The hex SHA-256 of an entry's fields and ``prev_hash``, given as a mapping of field names."""
    return hashlib.sha256(canonical_bytes(values)).hexdigest()


def _clip(value: str | None, column: str) -> str | None:
    # A hostile inbound message may carry a header longer than the column: keep its start rather
    # than fail to log the refusal (PostgreSQL refuses over-long strings, SQLite keeps them).
    column_type = _TABLE.c[column].type
    length = column_type.length if isinstance(column_type, String) else None
    return value[:length] if value is not None and length is not None else value


def _text(value: str | bytes | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    # PostgreSQL text cannot hold NUL; a message carrying one is refused, but it is still logged.
    return value.replace("\x00", "\ufffd")


def _lock_chain(session: Session) -> None:
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # Held until the caller's transaction ends: one appender at a time reads the last hash.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    elif dialect == "sqlite":
        # A write transaction (Database.transaction) took SQLite's write lock at BEGIN IMMEDIATE.
        if not connection.get_execution_options().get(WRITE_OPTION):
            raise ExchangeError("the message log is appended to only inside Database.transaction()")
    else:
        raise ExchangeError(f"the message log does not support the {dialect} database")


class EntryFields(TypedDict, total=False):
    """What an entry says (the keywords of :func:`entry_of`)."""

    direction: Required[Direction | str]
    kind: Required[Kind | str]
    outcome: Required[Outcome | str]
    message_id: str | None
    related_message_id: str | None
    system: str | None
    operation: str | None
    client: str | None
    service: str | None
    user_id: str | None
    case_number: str | None
    envelope: str | bytes | None
    signature_status: SignatureStatus | str
    verification: str | None
    attempt: int
    error: str | None
    at: datetime | None


def append(session: Session, **fields: Unpack[EntryFields]) -> MessageLogEntry:
    """Append one entry to the chain, in the caller's transaction, and return it (written).

    The chain stays locked until that transaction ends, so append late in it. ``envelope`` given
    as bytes is decoded as UTF-8; undecodable bytes and NUL characters (in any text) become U+FFFD.
    """
    [entry] = append_all(session, [entry_of(**fields)])
    return entry


def entry_of(
    *,
    direction: Direction | str,
    kind: Kind | str,
    outcome: Outcome | str,
    message_id: str | None = None,
    related_message_id: str | None = None,
    system: str | None = None,
    operation: str | None = None,
    client: str | None = None,
    service: str | None = None,
    user_id: str | None = None,
    case_number: str | None = None,
    envelope: str | bytes | None = None,
    signature_status: SignatureStatus | str = SignatureStatus.NOT_CHECKED,
    verification: str | None = None,
    attempt: int = 1,
    error: str | None = None,
    at: datetime | None = None,
) -> MessageLogEntry:
    """An entry to append (not yet in the chain: :func:`append_all` gives it its id and hashes)."""
    return MessageLogEntry(
        at=at or utcnow(),
        direction=Direction(direction),
        kind=Kind(kind),
        message_id=_clip(message_id, "message_id"),
        related_message_id=_clip(related_message_id, "related_message_id"),
        system=_clip(system, "system"),
        operation=_clip(operation, "operation"),
        client=_clip(client, "client"),
        service=_clip(service, "service"),
        user_id=_clip(user_id, "user_id"),
        case_number=_clip(case_number, "case_number"),
        envelope=_text(envelope),
        signature_status=SignatureStatus(signature_status),
        verification=_text(verification),
        attempt=attempt,
        outcome=Outcome(outcome),
        error=_text(error),
    )


def append_all(session: Session, entries: list[MessageLogEntry]) -> list[MessageLogEntry]:
    """Append entries (from :func:`entry_of`) in order, in the caller's transaction: the chain is
    locked and read once, and the entries are written in one statement. They are returned with
    their ids and hashes (not added to the session)."""
    if not entries:
        return []
    _lock_chain(session)
    last = session.execute(
        select(MessageLogEntry.id, MessageLogEntry.entry_hash).order_by(MessageLogEntry.id.desc()).limit(1)
    ).first()
    next_id, prev_hash = (1, GENESIS_HASH) if last is None else (last.id + 1, last.entry_hash)
    rows = []
    for entry in entries:
        entry.id, entry.prev_hash = next_id, prev_hash
        entry.entry_hash = prev_hash = entry_hash({name: getattr(entry, name) for name in HASHED_FIELDS})
        next_id += 1
        rows.append({column.key: getattr(entry, column.key) for column in _TABLE.columns})
    session.execute(insert(_TABLE), rows)
    return entries


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found.

    ``checked`` counts the entries read, the bad one included; ``last_id`` and ``last_hash`` are
    those of the last good entry (record them elsewhere to detect later removals from the end).
    """

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: Message | None = None
    last_id: int | None = None
    last_hash: str = GENESIS_HASH

    def summary(self) -> Message:
        """What ``huiju exchange verify-log`` says."""
        if self.reason is not None:
            return self.reason
        return _("the message log is intact: {count} entries", count=self.checked)


Report = TypeVar("Report", bound=ChainReport)


@dataclass(frozen=True)
class ChainWording:
    """How a hash-chained log words what is out of place (each log names its entries its own way)."""

    missing_before: Callable[[int], Message]
    missing_between: Callable[[int, int], Message]
    altered: Callable[[int, dict[str, Any]], Message]
    not_first: Callable[[int, dict[str, Any]], Message]
    out_of_place: Callable[[int, int, dict[str, Any]], Message]


def walk_chain(
    session: Session,
    columns: Sequence[Any],
    id_column: Any,
    hash_matches: Callable[[dict[str, Any]], bool],
    wording: ChainWording,
    *,
    report: type[Report],
    batch: int = 1000,
) -> Report:
    """Recompute every hash and link of a hash-chained table, oldest first, ``batch`` rows at a time.

    Stops at the first entry that is out of place: a gap in the ids (entries removed), an entry
    whose hash does not match its content (altered), or one whose ``prev_hash`` is not the hash of
    the entry before it (altered, inserted or reordered). The message log and the audit trail both
    use it.
    """
    if batch < 1:
        raise InputError(_("the batch size must be at least 1"))
    checked = 0
    last_id: int | None = None
    last_hash = GENESIS_HASH
    while True:
        stmt = select(*columns).order_by(id_column).limit(batch)
        if last_id is not None:
            stmt = stmt.where(id_column > last_id)
        rows = session.execute(stmt).all()
        for row in rows:
            values: dict[str, Any] = dict(row._mapping)
            entry_id: int = values["id"]
            checked += 1
            reason: Message | None = None
            if last_id is None and entry_id != 1:
                reason = wording.missing_before(entry_id)
            elif last_id is not None and entry_id != last_id + 1:
                reason = wording.missing_between(last_id, entry_id)
            elif not hash_matches(values):
                reason = wording.altered(entry_id, values)
            elif values["prev_hash"] != last_hash and last_id is None:
                reason = wording.not_first(entry_id, values)
            elif values["prev_hash"] != last_hash and last_id is not None:
                reason = wording.out_of_place(entry_id, last_id, values)
            if reason is not None:
                return report(False, checked, entry_id, reason, last_id, last_hash)
            last_id, last_hash = entry_id, values["entry_hash"]
        if len(rows) < batch:
            return report(True, checked, last_id=last_id, last_hash=last_hash)


#: How the message log words a broken chain.
_LOG_WORDING = ChainWording(
    missing_before=lambda entry: _("entries missing before entry {entry}", entry=entry),
    missing_between=lambda previous, entry: _(
        "entries missing between {previous} and {entry}", previous=previous, entry=entry
    ),
    altered=lambda entry, _values: _("entry {entry} was altered", entry=entry),
    not_first=lambda entry, _values: _("entry {entry} does not start the chain", entry=entry),
    out_of_place=lambda entry, previous, _values: _(
        "entry {entry} does not follow entry {previous}", entry=entry, previous=previous
    ),
)


def verify_chain(session: Session, *, batch: int = 1000) -> ChainReport:
    """The message log's chain checked whole (see :func:`walk_chain`)."""
    return walk_chain(
        session, _VERIFY_COLUMNS, _TABLE.c.id, _hash_matches, _LOG_WORDING, report=ChainReport, batch=batch
    )


def _hash_matches(values: dict[str, Any]) -> bool:
    try:
        values["envelope"] = decompress_envelope(values["envelope"])
        if isinstance(values["at"], str):
            values["at"] = _stored_time(values["at"])
    except ValueError:
        return False
    return bool(entry_hash(values) == values["entry_hash"])


def _direction(value: Direction | str) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise InputError(_("the direction must be one of: {allowed}", allowed=", ".join(_values(Direction)))) from None


def _outcome(value: Outcome | str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise InputError(_("the outcome must be one of: {allowed}", allowed=", ".join(_values(Outcome)))) from None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InputError(_("the times to filter by must carry a time zone"))
    return value


def query(
    session: Session,
    *,
    message_id: str | None = None,
    case_number: str | None = None,
    system: str | None = None,
    direction: Direction | str | None = None,
    outcome: Outcome | str | None = None,
    operation: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[MessageLogEntry]:
    """Entries matching every filter given, newest first (for ``huiju exchange log``).

    ``message_id`` matches a message and the replies to it (``related_message_id``); ``since`` is
    inclusive and ``until`` exclusive, both offset-aware.
    """
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise InputError(_("the limit must be between 1 and {maximum}", maximum=MAX_QUERY_LIMIT))
    if offset < 0:
        raise InputError(_("the offset cannot be negative"))
    stmt = select(MessageLogEntry)
    if message_id is not None:
        stmt = stmt.where(
            or_(MessageLogEntry.message_id == message_id, MessageLogEntry.related_message_id == message_id)
        )
    if case_number is not None:
        stmt = stmt.where(MessageLogEntry.case_number == case_number)
    if system is not None:
        stmt = stmt.where(MessageLogEntry.system == system)
    if operation is not None:
        stmt = stmt.where(MessageLogEntry.operation == operation)
    if direction is not None:
        stmt = stmt.where(MessageLogEntry.direction == _direction(direction))
    if outcome is not None:
        stmt = stmt.where(MessageLogEntry.outcome == _outcome(outcome))
    if (start := _aware(since)) is not None:
        stmt = stmt.where(MessageLogEntry.at >= start)
    if (end := _aware(until)) is not None:
        stmt = stmt.where(MessageLogEntry.at < end)
    stmt = stmt.order_by(MessageLogEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))
