"""The payment platform's checkout page of an order: ``o2o_order.pay_url``, the ``payUrl`` of its
CreatePayment reply, where the orderer pays the part the service credit does not cover (orders
placed before keep none: their payer was played by the sandbox).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("o2o_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pay_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("o2o_order", schema=None) as batch_op:
        batch_op.drop_column("pay_url")
