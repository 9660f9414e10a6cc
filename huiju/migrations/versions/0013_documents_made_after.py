"""Documents made after the decision: a document's number, date and facts commit with the decision
that calls for it; its PDF is made and signed just after, off the decision's transaction.

- ``document.facts``: what the document says beyond the case's record (the documents issued before
  kept their PDF, and get an empty set of facts);
- ``document.content`` and ``sha256`` may be empty (the PDF not made yet); ``made_at``: when it was.

Revision ID: 0013
Revises: 0004
Create Date: 2026-12-06 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huiju.db

revision: str = "0013"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("made_at", huiju.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=True)
    op.execute(sa.text("UPDATE document SET made_at = issued_at WHERE content IS NOT NULL"))


def downgrade() -> None:
    unmade = op.get_bind().execute(sa.text("SELECT count(*) FROM document WHERE content IS NULL")).scalar_one()
    if unmade:  # the older schema keeps only made documents: none is dropped
        raise RuntimeError(f"{unmade} document(s) wait for their PDF: let the worker make them, then downgrade")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("made_at")
        batch_op.drop_column("facts")
