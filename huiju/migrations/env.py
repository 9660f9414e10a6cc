"""Alembic environment: the metadata of every Huiju model, on the connection the caller gives."""

from __future__ import annotations

from alembic import context

from huiju.app.bootstrap import import_models
from huiju.db import Base

import_models()
config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through huiju.migrate (it hands Alembic a connection)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
