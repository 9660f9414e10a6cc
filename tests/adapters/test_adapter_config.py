"""Functional adapter settings in the database, and their detached snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config import AdapterConfig, AdapterSettings, ensure_defaults, get_config
from huiju.db import Database
from huiju.errors import NotFoundError


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path}/t.db")
    db.create_all()
    return db


def test_defaults_point_at_the_sandbox_and_are_inserted_once(database: Database) -> None:
    with database.transaction() as session:
        added = ensure_defaults(session, "http://127.0.0.1:8701/")
        assert sorted(row.system for row in added) == [
            "citizen_info",
            "data_exchange",
            "egov_approval",
            "payment",
            "sms",
        ]
    with database.transaction() as session:
        assert ensure_defaults(session, "http://elsewhere") == []
        row = get_config(session, "sms")
        assert row.endpoint == "http://127.0.0.1:8701/sms"
        assert (row.connect_timeout, row.operation_timeout, row.max_attempts, row.backoff_seconds) == (3, 10, 5, 2.0)
        assert row.enabled and row.wsdl_file == "sms.wsdl" and row.updated_at.tzinfo is not None


def test_snapshot_is_detached_and_frozen(database: Database) -> None:
    with database.transaction() as session:
        ensure_defaults(session, "http://sandbox")
        row = get_config(session, "egov_approval")
        row.operation_timeout = 4.5
        snapshot = row.snapshot()
    assert isinstance(snapshot, AdapterSettings)
    assert snapshot.endpoint == "http://sandbox/egov_approval" and snapshot.operation_timeout == 4.5
    with pytest.raises(AttributeError):
        snapshot.endpoint = "http://other"  # type: ignore[misc]
    with database.transaction() as session:
        assert get_config(session, "egov_approval").operation_timeout == 4.5


def test_unknown_system_is_not_found(database: Database) -> None:
    with database.transaction() as session, pytest.raises(NotFoundError, match="no adapter configuration"):
        get_config(session, "fax")


def test_for_sandbox_matches_the_defaults() -> None:
    settings = AdapterSettings.for_sandbox("data_exchange", "http://h:1/", operation_timeout=1.0)
    assert settings.endpoint == "http://h:1/data_exchange" and settings.wsdl_file == "data_exchange.wsdl"
    assert settings.operation_timeout == 1.0 and settings.connect_timeout == 3.0
    assert AdapterConfig.__tablename__ == "adapter_config"
