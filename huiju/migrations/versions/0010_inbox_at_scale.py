"""The inbox at scale: indexes that serve each inbox in its order; counters read by /metrics.

Each inbox (a community's, a street's, everyone's; by due date or by arrival) is read in the order
of one index and never sorted, so that its first page costs the same with a thousand or a million
open tasks. The two older inbox indexes are prefixes of the new ones and go. /metrics counts cases
by status and outcome from an index, and keeps what no table records (refused sign-ins, the
delivery latency histogram) in ``metric_counter``.

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0010"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES: dict[str, list[str]] = {
    "ix_human_task_community_due": ["status", "role", "community_id", "due_at", "created_at", "id", "assignee"],
    "ix_human_task_community_received": ["status", "role", "community_id", "created_at", "id", "assignee"],
    "ix_human_task_street_due": ["status", "role", "street_id", "due_at", "created_at", "id", "assignee"],
    "ix_human_task_street_received": ["status", "role", "street_id", "created_at", "id", "assignee"],
    "ix_human_task_resident": ["resident_id", "status"],
    "ix_human_task_all_due": ["status", "due_at", "created_at", "id"],
    "ix_human_task_all_received": ["status", "created_at", "id"],
}


def upgrade() -> None:
    op.create_table(
        "metric_counter",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("labels", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "labels", name=op.f("pk_metric_counter")),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index("ix_case_status_outcome", ["status", "outcome"], unique=False)
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_inbox")
        batch_op.drop_index("ix_human_task_street")
        for name, columns in _INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        for name in reversed(_INDEXES):
            batch_op.drop_index(name)
        batch_op.create_index("ix_human_task_street", ["status", "role", "street_id"], unique=False)
        batch_op.create_index("ix_human_task_inbox", ["status", "role", "community_id"], unique=False)
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_status_outcome")
    op.drop_table("metric_counter")
