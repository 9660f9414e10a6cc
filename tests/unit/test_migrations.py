"""The migrations build exactly the schema the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from huiju.app.bootstrap import import_models
from huiju.db import Base, Database
from huiju.migrate import current_revision, head_revision, upgrade


def test_upgrade_builds_the_models_schema(tmp_path: Path) -> None:
    import_models()
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "models changed without a migration: run `huiju db revision -m ...`"
    upgrade(db)  # a second run is a no-op
    assert current_revision(db) == head_revision()
    db.dispose()


def test_years_with_entered_days_stay_known_after_the_upgrade_that_adds_publishing(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db, "0002")
    with db.engine.begin() as connection:  # a day entered when any entry made its year known
        connection.execute(
            text("INSERT INTO calendar_override (day, kind, name, created_at) VALUES (:d, 'holiday', '', :t)"),
            {"d": "2030-10-08", "t": "2026-11-29 00:00:00+00:00"},
        )
    upgrade(db)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT year, published_by FROM calendar_year")).all() == [(2030, "migration")]
    db.dispose()
