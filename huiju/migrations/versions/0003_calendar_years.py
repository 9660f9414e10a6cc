"""Published calendar years: a year entered by the administrator is final only once published.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:52:26.349905
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", huiju.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_year")),
    )
    # Before this revision any entered day made its year known: keep those years' deadlines final.
    days = op.get_bind().execute(sa.text("SELECT day FROM calendar_override")).scalars().all()
    years = sorted({(day if isinstance(day, date) else date.fromisoformat(str(day))).year for day in days})
    if years:
        table = sa.table("calendar_year", sa.column("year"), sa.column("published_by"), sa.column("published_at"))
        now = datetime.now(UTC)
        op.bulk_insert(table, [{"year": y, "published_by": "migration", "published_at": now} for y in years])


def downgrade() -> None:
    op.drop_table("calendar_year")
