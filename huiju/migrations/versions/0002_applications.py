"""Drafts, materials, ratings, agent applications, case time limits, item themes.

New NOT NULL columns carry server defaults so that existing rows upgrade.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:13:29.743309
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=True),
        sa.Column("agent_relation", sa.String(length=32), nullable=True),
        sa.Column("form_data", sa.JSON(), nullable=False),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["applicant_id"], ["resident.id"], name=op.f("fk_draft_applicant_id_resident")),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_draft_item_id_item")),
        sa.ForeignKeyConstraint(["owner_id"], ["huiju_user.id"], name=op.f("fk_draft_owner_id_huiju_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft")),
    )
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_material_size")),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_material_case_id_case")),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["draft.id"], name=op.f("fk_material_draft_id_draft"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_material_storage_key")),
    )
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_material_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_material_draft_id"), ["draft_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_material_sha256"), ["sha256"], unique=False)

    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_by", sa.String(length=64), nullable=False),
        sa.Column("rated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("follow_up_instance_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_rating_level")),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=op.f("fk_rating_case_id_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating")),
        sa.UniqueConstraint("case_id", name=op.f("uq_rating_case_id")),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("agent_relation", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("consent", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("committed_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("statutory_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("due_provisional", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("clock_paused_since", huiju.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_days", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("accepted_at", huiju.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_case_agent_user_id"), ["agent_user_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_case_agent_user_id_huiju_user"), "huiju_user", ["agent_user_id"], ["id"]
        )

    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duty_phone", sa.String(length=20), nullable=True))

    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "theme",
                sa.Enum(
                    "ELDERLY_CARE",
                    "SOCIAL_ASSISTANCE",
                    "CERTIFICATES",
                    "EMPLOYMENT",
                    "FAMILY",
                    "SERVICE_REQUESTS",
                    "OTHER",
                    name="theme",
                    native_enum=False,
                    length=32,
                ),
                nullable=False,
                server_default="OTHER",
            )
        )
        batch_op.add_column(sa.Column("summary", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("eligibility", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("steps", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("steps")
        batch_op.drop_column("eligibility")
        batch_op.drop_column("summary")
        batch_op.drop_column("theme")

    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_case_agent_user_id_huiju_user"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_case_agent_user_id"))
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("paused_days")
        batch_op.drop_column("clock_paused_since")
        batch_op.drop_column("due_provisional")
        batch_op.drop_column("statutory_due")
        batch_op.drop_column("committed_due")
        batch_op.drop_column("consent")
        batch_op.drop_column("agent_relation")
        batch_op.drop_column("agent_user_id")

    with op.batch_alter_table("org", schema=None) as batch_op:
        batch_op.drop_column("duty_phone")

    op.drop_table("rating")
    with op.batch_alter_table("material", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_material_sha256"))
        batch_op.drop_index(batch_op.f("ix_material_draft_id"))
        batch_op.drop_index(batch_op.f("ix_material_case_id"))

    op.drop_table("material")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_owner_id"))

    op.drop_table("draft")
