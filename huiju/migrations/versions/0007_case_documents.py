"""Written documents of a case (文书) and the counters of their numbers (文号), the offices' service
phone and address, and pending uploads (a 补正 answer's files kept for the resident until the
answer is sent).

Revision ID: 0007
Revises: 0012
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0007"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signed_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_document_case_id_case")),
        sa.ForeignKeyConstraint(["issuer_id"], ["org.id"], name=op.f("fk_document_issuer_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("number", name=op.f("uq_document_number")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_sha256"), ["sha256"], unique=False)
    op.create_table(
        "document_number_counter",
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_document_number_counter")),
    )
    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=200), nullable=True))
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_case_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_material_pending_case_id"), ["pending_case_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_material_pending_case_id_case"), "case", ["pending_case_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_material_pending_case_id_case"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_material_pending_case_id"))
        batch_op.drop_column("pending_case_id")
    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.drop_column("address")
        batch_op.drop_column("service_phone")
    op.drop_table("document_number_counter")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_sha256"))
        batch_op.drop_index(batch_op.f("ix_document_case_id"))
    op.drop_table("document")
