"""Callbacks kept until they can be correlated, and the facts learnt by asking (reconciliation).

Revision ID: 0005
Revises: 0008
Create Date: 2026-12-06 03:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0005"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = sa.Enum("decision", "delivery", name="callbackkind", native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "callback_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("source", sa.Enum("callback", "query", name="source", native_enum=False, length=16), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("fact", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "held",
                "applied",
                "duplicate",
                "superseded",
                "mismatched",
                name="callbackstate",
                native_enum=False,
                length=16,
            ),  # fmt: skip
            nullable=False,
        ),
        sa.Column("received_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("held_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_record")),
        sa.UniqueConstraint("message_id", name=op.f("uq_callback_record_message_id")),
    )
    op.create_index(op.f("ix_callback_record_case_number"), "callback_record", ["case_number"], unique=False)
    op.create_index("ix_callback_record_state", "callback_record", ["state", "kind"], unique=False)
    op.create_index("ix_callback_record_subject", "callback_record", ["kind", "subject"], unique=False)
    op.create_table(
        "reconciliation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_asked_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation")),
    )
    op.create_index("ix_reconciliation_subject", "reconciliation", ["kind", "subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_reconciliation_subject", table_name="reconciliation")
    op.drop_table("reconciliation")
    op.drop_index("ix_callback_record_subject", table_name="callback_record")
    op.drop_index("ix_callback_record_state", table_name="callback_record")
    op.drop_index(op.f("ix_callback_record_case_number"), table_name="callback_record")
    op.drop_table("callback_record")
