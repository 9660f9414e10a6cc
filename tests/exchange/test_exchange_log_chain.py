"""The message log's hash chain: appended under concurrency, and every kind of tampering named."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text

from exchange.log import (
    GENESIS_HASH,
    HASHED_FIELDS,
    Direction,
    Kind,
    MessageLogEntry,
    Outcome,
    SignatureStatus,
    append,
    entry_hash,
    verify_chain,
)
from exchange.packing import compress_envelope
from huiju.db import Database
from huiju.errors import ExchangeError

ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soap:Header/><soap:Body><SendSms><phone>13800000000</phone><text>您好</text></SendSms></soap:Body>"
    "</soap:Envelope>\r\n"
)


def _request(session: Any, n: int, **overrides: Any) -> MessageLogEntry:
    fields: dict[str, Any] = {
        "direction": Direction.OUT,
        "kind": Kind.REQUEST,
        "outcome": Outcome.SENT,
        "message_id": f"msg-{n}",
        "system": "sms",
        "operation": "SendSms",
        "client": "CN/GOV/huiju",
        "service": "CN/GOV/sms/SendSms",
        "user_id": "officer-7",
        "case_number": f"SQ2026{n % 13:04d}",
        "envelope": ENVELOPE,
        "attempt": 1 + n % 3,
    }
    fields.update(overrides)
    return append(session, **fields)


def _fill(db: Database, count: int) -> None:
    for n in range(count):  # one transaction each, as delivery appends them
        with db.transaction() as session:
            _request(session, n)


def _verify(db: Database, batch: int = 1000) -> Any:
    with db.sessions() as session:
        return verify_chain(session, batch=batch)


def _sql(db: Database, statement: str, **params: Any) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(statement), params)


def test_the_first_entry_starts_from_zeros_and_its_hash_is_the_documented_one(sqlite_db: Database) -> None:
    at = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    with sqlite_db.transaction() as session:
        entry = _request(session, 1, at=at, signature_status="valid", verification="CN=sandbox")
    assert entry.id == 1
    assert entry.prev_hash == GENESIS_HASH == "0" * 64
    document = {name: getattr(entry, name) for name in HASHED_FIELDS}
    document.update(at="2026-05-01T08:00:00.000000+00:00", direction="out", kind="request",
                    signature_status="valid", outcome="sent")  # fmt: skip
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert entry.entry_hash == hashlib.sha256(canonical).hexdigest()
    with sqlite_db.transaction() as session:
        second = _request(session, 2)
    assert (second.id, second.prev_hash) == (2, entry.entry_hash)


def test_an_empty_log_verifies(sqlite_db: Database) -> None:
    report = _verify(sqlite_db)
    assert (report.ok, report.checked, report.last_id, report.last_hash) == (True, 0, None, GENESIS_HASH)


@pytest.mark.parametrize("batch", [1000, 7, 300, 1])
def test_hundreds_of_entries_in_many_transactions_verify(sqlite_db: Database, batch: int) -> None:
    _fill(sqlite_db, 300)
    report = _verify(sqlite_db, batch)
    assert report.ok, report.reason
    assert (report.checked, report.first_bad_id, report.reason, report.last_id) == (300, None, None, 300)
    with sqlite_db.sessions() as session:
        last = session.scalars(select(MessageLogEntry).where(MessageLogEntry.id == 300)).one()
    assert report.last_hash == last.entry_hash
    assert str(report.summary()) == "the message log is intact: 300 entries"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("operation", "QueryDelivery"),
        # Envelopes are stored compressed: a forger who compresses the text again is caught by the
        # hash, one who writes bytes that do not decompress by the check of the format.
        ("envelope_zlib", compress_envelope(ENVELOPE.replace("13800000000", "13900000000"))),
        ("envelope_zlib", compress_envelope(ENVELOPE.replace("\r\n", "\n"))),
        ("envelope_zlib", compress_envelope(ENVELOPE)[:-3]),
        ("envelope_zlib", b"\x02" + compress_envelope(ENVELOPE)[1:]),
        ("envelope_zlib", ENVELOPE.encode()),
        ("case_number", None),
        ("attempt", 9),
        ("signature_status", "valid"),
        ("outcome", "bogus"),  # not even a value the column's type accepts
        ("at", "2026-05-01 08:00:00.000000"),
        ("at", "not a time"),
        ("prev_hash", GENESIS_HASH),
        ("entry_hash", "f" * 64),
    ],
)
def test_an_altered_field_names_exactly_that_entry(sqlite_db: Database, column: str, value: Any) -> None:
    _fill(sqlite_db, 200)
    _sql(sqlite_db, f"UPDATE message_log SET {column} = :value WHERE id = 123", value=value)  # noqa: S608
    report = _verify(sqlite_db, batch=50)
    assert not report.ok
    assert (report.first_bad_id, report.checked, report.last_id) == (123, 123, 122)
    assert str(report.reason) == "entry 123 was altered"


def test_an_altered_entry_given_a_fresh_hash_breaks_the_next_link(sqlite_db: Database) -> None:
    _fill(sqlite_db, 50)
    with sqlite_db.transaction() as session:
        entry = session.get_one(MessageLogEntry, 20)
        entry.user_id = "someone-else"
        entry.entry_hash = entry_hash({name: getattr(entry, name) for name in HASHED_FIELDS})  # a careful forger
    report = _verify(sqlite_db)
    assert (report.ok, report.first_bad_id, str(report.reason)) == (False, 21, "entry 21 does not follow entry 20")


def test_a_deleted_entry_names_the_gap(sqlite_db: Database) -> None:
    _fill(sqlite_db, 120)
    _sql(sqlite_db, "DELETE FROM message_log WHERE id IN (57, 58)")
    report = _verify(sqlite_db, batch=10)
    assert (report.ok, report.first_bad_id, report.last_id) == (False, 59, 56)
    assert str(report.reason) == "entries missing between 56 and 59"


def test_a_deleted_first_entry_is_detected(sqlite_db: Database) -> None:
    _fill(sqlite_db, 5)
    _sql(sqlite_db, "DELETE FROM message_log WHERE id = 1")
    report = _verify(sqlite_db)
    assert (report.ok, report.first_bad_id, str(report.reason)) == (False, 2, "entries missing before entry 2")


def test_a_forged_first_entry_is_detected(sqlite_db: Database) -> None:
    _fill(sqlite_db, 3)
    _sql(sqlite_db, "UPDATE message_log SET prev_hash = :h WHERE id = 1", h="1" * 64)
    with sqlite_db.transaction() as session:  # the forger also fixes up its own hash
        entry = session.get_one(MessageLogEntry, 1)
        entry.entry_hash = entry_hash({name: getattr(entry, name) for name in HASHED_FIELDS})
    report = _verify(sqlite_db)
    assert (report.ok, report.first_bad_id, str(report.reason)) == (False, 1, "entry 1 does not start the chain")


CONTENT = [
    "envelope_zlib" if name == "envelope" else name for name in (*HASHED_FIELDS, "entry_hash") if name != "id"
]  # the columns as stored


def test_two_entries_with_swapped_content_are_detected(sqlite_db: Database) -> None:
    _fill(sqlite_db, 60)
    assignments = ", ".join(f"{name} = other.{name}" for name in CONTENT)
    _sql(
        sqlite_db,
        f"UPDATE message_log SET {assignments} FROM message_log AS other "  # noqa: S608
        "WHERE (message_log.id, other.id) IN ((40, 41), (41, 40))",
    )
    with sqlite_db.sessions() as session:
        swapped = session.scalars(select(MessageLogEntry.message_id).where(MessageLogEntry.id.in_([40, 41]))).all()
    assert sorted(str(message_id) for message_id in swapped) == ["msg-39", "msg-40"]  # the content really moved
    report = _verify(sqlite_db)
    assert (report.ok, report.first_bad_id, str(report.reason)) == (False, 40, "entry 40 was altered")


def test_two_entries_with_swapped_ids_are_detected(sqlite_db: Database) -> None:
    _fill(sqlite_db, 60)
    _sql(sqlite_db, "UPDATE message_log SET id = -1 WHERE id = 40")
    _sql(sqlite_db, "UPDATE message_log SET id = 40 WHERE id = 41")
    _sql(sqlite_db, "UPDATE message_log SET id = 41 WHERE id = -1")
    report = _verify(sqlite_db)
    assert (report.ok, report.first_bad_id, str(report.reason)) == (False, 40, "entry 40 was altered")


def test_a_rolled_back_append_leaves_no_gap(any_db: Database) -> None:
    with any_db.transaction() as session:
        _request(session, 1)
    with pytest.raises(RuntimeError), any_db.transaction() as session:
        _request(session, 2)
        raise RuntimeError("the step failed after logging")
    with any_db.transaction() as session:
        third = _request(session, 3)
        fourth = _request(session, 4)  # twice in one transaction
    assert (third.id, fourth.id, fourth.prev_hash) == (2, 3, third.entry_hash)
    report = _verify(any_db)
    assert (report.ok, report.checked) == (True, 3)


def test_concurrent_appenders_keep_one_linear_chain(any_db: Database) -> None:
    def appender(thread: int) -> None:
        for n in range(50):
            with any_db.transaction() as session:
                _request(session, thread * 1000 + n, client=f"thread-{thread}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(appender, thread) for thread in range(4)]:
            future.result()
    report = _verify(any_db, batch=64)
    assert report.ok, report.reason
    assert (report.checked, report.last_id) == (200, 200)
    with any_db.sessions() as session:
        rows = session.execute(select(MessageLogEntry.client, func.count()).group_by(MessageLogEntry.client))
        per_thread = {client: count for client, count in rows}
    assert per_thread == {f"thread-{thread}": 50 for thread in range(4)}


def test_hostile_inbound_values_are_still_logged(any_db: Database) -> None:
    wire = b"<x>\x00\xff\xfe not xml" + "您好".encode()
    with any_db.transaction() as session:
        entry = append(
            session,
            direction="in",
            kind="refusal",
            outcome="refused",
            message_id="m" * 500,
            client="c" * 500,
            envelope=wire,
            signature_status=SignatureStatus.ABSENT,
            verification="not XML at all",
            error="fault from a \x00 hostile peer",
        )
    assert entry.message_id == "m" * 64
    assert entry.envelope == "<x>\ufffd\ufffd\ufffd not xml您好"
    assert entry.error == "fault from a \ufffd hostile peer"
    with any_db.sessions() as session:
        stored = session.get_one(MessageLogEntry, entry.id)
        assert (stored.envelope, stored.direction, stored.outcome) == (entry.envelope, Direction.IN, Outcome.REFUSED)
    assert _verify(any_db).ok


def test_append_needs_a_write_transaction_on_sqlite(sqlite_db: Database) -> None:
    with sqlite_db.sessions() as session, pytest.raises(ExchangeError, match="Database.transaction"):
        _request(session, 1)


def test_envelopes_are_stored_compressed_and_read_back_exactly(sqlite_db: Database) -> None:
    signed = (
        '<?xml version="1.0" encoding="utf-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/'
        'envelope/"><soap-env:Header><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:SignedInfo>'
        "</ds:Signature></soap-env:Header><soap-env:Body><SendSms><phone>13800000000</phone><text>您好</text>"
        "</SendSms></soap-env:Body></soap-env:Envelope>"
    )
    with sqlite_db.transaction() as session:
        entry = _request(session, 1, envelope=signed)
        empty = _request(session, 2, envelope=None)
    with sqlite_db.sessions() as session:
        stored = session.get_one(MessageLogEntry, entry.id)
        assert stored.envelope == signed
        assert stored.envelope_zlib is not None and len(stored.envelope_zlib) < 0.6 * len(signed.encode())
        assert session.get_one(MessageLogEntry, empty.id).envelope is None
    assert _verify(sqlite_db).ok
