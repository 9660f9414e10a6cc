"""Processes, running cases and the item catalogue kept by administrators.

- ``process_definition``: its ``kind`` (a process, or a decision table deployed on its own) and the
  deployed definitions it calls (``references``, resolved when it was deployed).
- ``process_instance``: ``suspended_from``, the status a suspended instance returns to.
- ``item``: ``state`` (draft, published, withdrawn; published items are the active ones),
  ``form_version`` and who changed it last; ``item_form_version`` keeps every version of an item's
  form (each item gets its current one as version 1) and ``case.form_version_id`` the one a case was
  submitted with (the current one for the cases there are).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.Enum("BPMN", "DMN", name="definitionkind", native_enum=False,
                                                      length=8), nullable=False, server_default="BPMN"))  # fmt: skip
        batch_op.add_column(sa.Column("references", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspended_from", sa.String(length=16), nullable=True))

    op.create_table(
        "item_form_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("form_schema", sa.JSON(), nullable=False),
        sa.Column("required_materials", sa.JSON(), nullable=False),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_item_form_version_item_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_form_version")),
        sa.UniqueConstraint("item_id", "version", name=op.f("uq_item_form_version_item_id")),
    )
    with op.batch_alter_table("item_form_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_form_version_item_id"), ["item_id"], unique=False)
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.Enum("DRAFT", "PUBLISHED", "WITHDRAWN", name="itemstate",
                                                       native_enum=False, length=16), nullable=False,
                                      server_default="PUBLISHED"))  # fmt: skip
        batch_op.add_column(sa.Column("form_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form_version_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_case_form_version_id_item_form_version"), "item_form_version",
                                    ["form_version_id"], ["id"])  # fmt: skip

    bind = op.get_bind()
    now = datetime.now(UTC)
    versions = sa.table(
        "item_form_version", sa.column("item_id"), sa.column("version"), sa.column("form_schema", sa.JSON()),
        sa.column("required_materials", sa.JSON()), sa.column("created_at", huiju.db.UTCDateTime(timezone=True)),
        sa.column("created_by"),
    )  # fmt: skip
    items = bind.execute(sa.text("SELECT id, form_schema, required_materials, active FROM item")).all()
    for item_id, schema, materials, active in items:
        op.bulk_insert(versions, [{
            "item_id": item_id, "version": 1, "form_schema": _json(schema), "required_materials": _json(materials),
            "created_at": now, "created_by": "migration",
        }])  # fmt: skip
        if not active:
            bind.execute(sa.text("UPDATE item SET state = 'WITHDRAWN' WHERE id = :i"), {"i": item_id})
    bind.execute(
        sa.text(
            'UPDATE "case" SET form_version_id = (SELECT v.id FROM item_form_version v '
            'WHERE v.item_id = "case".item_id AND v.version = 1)'
        )
    )


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else (value if value is not None else [])


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_case_form_version_id_item_form_version"), type_="foreignkey")
        batch_op.drop_column("form_version_id")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("updated_by")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("form_version")
        batch_op.drop_column("state")
    with op.batch_alter_table("item_form_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_form_version_item_id"))
    op.drop_table("item_form_version")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_column("suspended_from")
    with op.batch_alter_table("process_definition", schema=None) as batch_op:
        batch_op.drop_column("references")
        batch_op.drop_column("kind")
