"""Schema migrations (Alembic), driven from Python so that no ``alembic.ini`` is needed.

``huiju init`` upgrades the database to the newest revision; developers add a revision with
``huiju db revision -m "why"`` after changing a model, and the test suite checks that the
migrations and the models describe the same schema.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from huiju.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: object | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    with db.engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def revision(db: Database, message: str) -> None:
    """Write a new revision file from the difference between the models and the database."""
    with db.engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
