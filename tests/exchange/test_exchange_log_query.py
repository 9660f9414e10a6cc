"""Listing and filtering the message log (what ``huiju exchange log`` shows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from exchange.log import Direction, Kind, Outcome, SignatureStatus, append, query
from huiju.db import Database
from huiju.errors import InputError

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def log_db(sqlite_db: Database) -> Database:
    """A request that failed once and then was answered, and a refused callback."""
    with sqlite_db.transaction() as session:
        for attempt, outcome in ((1, Outcome.TRANSIENT_FAILURE), (2, Outcome.DELIVERED)):
            append(session, direction=Direction.OUT, kind=Kind.REQUEST, outcome=outcome, message_id="req-1",
                   system="extranet", operation="SubmitCase", case_number="SQ1", attempt=attempt,
                   at=T0 + timedelta(minutes=attempt), error="timed out" if attempt == 1 else None)  # fmt: skip
        append(session, direction="in", kind="reply", outcome="accepted", message_id="rep-1",
               related_message_id="req-1", system="extranet", case_number="SQ1",
               signature_status=SignatureStatus.VALID, at=T0 + timedelta(minutes=3))  # fmt: skip
        append(session, direction="in", kind="refusal", outcome="refused", message_id="cb-9", system="sms",
               signature_status="invalid", verification="body altered after signing",
               at=T0 + timedelta(minutes=4))  # fmt: skip
    return sqlite_db


def _ids(db: Database, **filters: object) -> list[int]:
    with db.sessions() as session:
        return [entry.id for entry in query(session, **filters)]  # type: ignore[arg-type]


def test_everything_newest_first(log_db: Database) -> None:
    assert _ids(log_db) == [4, 3, 2, 1]
    assert _ids(log_db, limit=2) == [4, 3]
    assert _ids(log_db, limit=2, offset=2) == [2, 1]


def test_a_message_id_finds_its_attempts_and_its_reply(log_db: Database) -> None:
    assert _ids(log_db, message_id="req-1") == [3, 2, 1]
    assert _ids(log_db, message_id="cb-9") == [4]
    assert _ids(log_db, message_id="nothing") == []


def test_filters_combine(log_db: Database) -> None:
    assert _ids(log_db, case_number="SQ1") == [3, 2, 1]
    assert _ids(log_db, system="extranet", direction="out") == [2, 1]
    assert _ids(log_db, direction=Direction.IN) == [4, 3]
    assert _ids(log_db, outcome="refused") == [4]
    assert _ids(log_db, system="sms", outcome=Outcome.DELIVERED) == []


def test_since_is_inclusive_and_until_exclusive(log_db: Database) -> None:
    assert _ids(log_db, since=T0 + timedelta(minutes=2)) == [4, 3, 2]
    assert _ids(log_db, until=T0 + timedelta(minutes=2)) == [1]
    beijing = T0.astimezone(timezone(timedelta(hours=8)))  # another offset, the same moments
    assert _ids(log_db, since=beijing + timedelta(minutes=3), until=beijing + timedelta(minutes=4)) == [3]


def test_entries_read_back_as_written(log_db: Database) -> None:
    with log_db.sessions() as session:
        refusal, reply = query(session, direction="in")
    assert (refusal.kind, refusal.signature_status, refusal.verification) == (
        Kind.REFUSAL, SignatureStatus.INVALID, "body altered after signing")  # fmt: skip
    assert (reply.related_message_id, reply.at, reply.attempt) == ("req-1", T0 + timedelta(minutes=3), 1)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"limit": 0}, "the limit must be between 1 and 1000"),
        ({"limit": 1001}, "the limit must be between 1 and 1000"),
        ({"offset": -1}, "the offset cannot be negative"),
        ({"direction": "sideways"}, "the direction must be one of: out, in"),
        ({"outcome": "lost"}, "the outcome must be one of: sent, delivered"),
        ({"since": datetime(2026, 5, 1)}, "must carry a time zone"),  # naive: refused
        ({"until": datetime(2026, 5, 1)}, "must carry a time zone"),
    ],
)
def test_bad_filters_are_refused_clearly(log_db: Database, filters: dict[str, object], message: str) -> None:
    with log_db.sessions() as session, pytest.raises(InputError, match=message):
        query(session, **filters)  # type: ignore[arg-type]
