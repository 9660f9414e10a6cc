"""Accounts that must change their password, the roster's address and household, the audit trail
(append-only: triggers refuse UPDATE and DELETE), roster imports, adapters' client certificates,
and the SOAP systems an integrator adds by uploading a WSDL.

New NOT NULL columns carry server defaults so that existing rows upgrade.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06 02:43:18.909029
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huiju.db
from huiju.models.audit import APPEND_ONLY_DDL

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.Column("definition", sa.String(length=128), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_action", ["action"], unique=False)
        batch_op.create_index("ix_audit_entry_actor", ["actor"], unique=False)
        batch_op.create_index("ix_audit_entry_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_entry_case_number", ["case_number"], unique=False)
        batch_op.create_index("ix_audit_entry_resident_id", ["resident_id"], unique=False)
    for statement in APPEND_ONLY_DDL.get(op.get_bind().dialect.name, ()):
        op.execute(statement)

    op.create_table(
        "roster_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("READY", "RUNNING", "DONE", name="importstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("refusals", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", huiju.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_import")),
    )
    op.create_table(
        "soap_system",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("title_en", sa.String(length=100), nullable=False),
        sa.Column("namespace", sa.String(length=200), nullable=False),
        sa.Column("binding", sa.String(length=100), nullable=False),
        sa.Column("wsdl", sa.Text(), nullable=False),
        sa.Column("wsdl_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_soap_system")),
        sa.UniqueConstraint("name", name=op.f("uq_soap_system_name")),
    )
    op.create_table(
        "soap_operation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("soap_operation", sa.String(length=100), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("probe", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["soap_system.id"], name=op.f("fk_soap_operation_system_id_soap_system")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_soap_operation")),
        sa.UniqueConstraint("name", name=op.f("uq_soap_operation_name")),
    )
    with op.batch_alter_table("soap_operation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_soap_operation_system_id"), ["system_id"], unique=False)

    with op.batch_alter_table("adapter_config", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client_certificate", sa.String(length=64), nullable=False, server_default="huiju")
        )
        batch_op.add_column(sa.Column("updated_by", sa.String(length=64), nullable=True))

    with op.batch_alter_table("huiju_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column(
                "created_at",
                huiju.db.UTCDateTime(timezone=True),
                nullable=False,
                server_default=sa.text("'2026-01-01 00:00:00+00:00'"),
            )
        )
        batch_op.add_column(sa.Column("password_changed_at", huiju.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_at", huiju.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("household", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("household")
        batch_op.drop_column("address")

    with op.batch_alter_table("huiju_user", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("created_at")
        batch_op.drop_column("must_change_password")

    with op.batch_alter_table("adapter_config", schema=None) as batch_op:
        batch_op.drop_column("updated_by")
        batch_op.drop_column("client_certificate")

    with op.batch_alter_table("soap_operation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_soap_operation_system_id"))

    op.drop_table("soap_operation")
    op.drop_table("soap_system")
    op.drop_table("roster_import")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_resident_id")
        batch_op.drop_index("ix_audit_entry_case_number")
        batch_op.drop_index("ix_audit_entry_at")
        batch_op.drop_index("ix_audit_entry_actor")
        batch_op.drop_index("ix_audit_entry_action")

    op.drop_table("audit_entry")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
