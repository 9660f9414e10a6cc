"""The migrations build exactly the schema the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from huiju.bootstrap import import_models
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
