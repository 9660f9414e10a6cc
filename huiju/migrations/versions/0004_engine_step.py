"""The engine's step: incident reasons, per-day case number counters, compressed message envelopes.

- ``process_instance``: why an instance is in incident (``incident_kind``, ``incident_detail``);
  instances already in incident take the detail of their case's last incident entry. The state
  (``serialized``) is stored compressed: JSON text becomes zlib-compressed bytes, its layout and
  version unchanged (a row of layout "1.5" is migrated on load by its named function).
- ``case_number_counter``: the last case number of each China day, seeded from the cases there are.
- ``message_log``: envelopes stored compressed (``envelope_zlib``); the hash chain covers the text,
  which does not change, so the chain verifies as before.

Revision ID: 0004
Revises: 0009
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from exchange.packing import compress_envelope

revision: str = "0004"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("incident_detail", sa.Text(), nullable=True))
    incidents = bind.execute(
        sa.text(
            'SELECT p.id, (SELECT e.detail FROM case_event e JOIN "case" c ON c.id = e.case_id '
            "WHERE c.process_instance_id = p.id AND e.kind = 'incident' ORDER BY e.id DESC LIMIT 1) "
            "FROM process_instance p WHERE p.status = 'INCIDENT'"
        )
    ).all()
    for instance_id, detail in incidents:
        bind.execute(
            sa.text("UPDATE process_instance SET incident_kind = 'call_failed', incident_detail = :d WHERE id = :i"),
            {"d": detail, "i": instance_id},
        )

    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.LargeBinary(), nullable=True))
    after = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT id, serialized FROM process_instance WHERE id > :after ORDER BY id LIMIT :n"),
            {"after": after, "n": BATCH},
        ).all()
        for instance_id, text in rows:
            bind.execute(
                sa.text("UPDATE process_instance SET state = :s WHERE id = :i"),
                {"s": zlib.compress(str(text).encode("utf-8"), 1), "i": instance_id},
            )
        if len(rows) < BATCH:
            break
        after = rows[-1][0]
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_column("serialized")
        batch_op.alter_column("state", new_column_name="serialized", existing_type=sa.LargeBinary(), nullable=False)

    op.create_table(
        "case_number_counter",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_case_number_counter")),
    )
    last: dict[str, int] = {}
    for (number,) in bind.execute(sa.text('SELECT number FROM "case"')):
        day, serial = str(number)[2:10], str(number)[10:]
        if day.isdigit() and serial.isdigit():
            last[day] = max(last.get(day, 0), int(serial))
    if last:
        counter = sa.table("case_number_counter", sa.column("day"), sa.column("last"))
        op.bulk_insert(counter, [{"day": day, "last": n} for day, n in sorted(last.items())])

    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("envelope_zlib", sa.LargeBinary(), nullable=True))
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, envelope FROM message_log WHERE id > :after AND envelope IS NOT NULL ORDER BY id LIMIT :n"
            ),
            {"after": after, "n": BATCH},
        ).all()
        for entry_id, envelope in rows:
            bind.execute(
                sa.text("UPDATE message_log SET envelope_zlib = :z WHERE id = :i"),
                {"z": compress_envelope(envelope), "i": entry_id},
            )
        if len(rows) < BATCH:
            break
        after = rows[-1][0]
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_column("envelope")


def downgrade() -> None:
    from exchange.packing import decompress_envelope

    bind = op.get_bind()
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("envelope", sa.Text(), nullable=True))
    for entry_id, packed in bind.execute(sa.text("SELECT id, envelope_zlib FROM message_log")).all():
        bind.execute(
            sa.text("UPDATE message_log SET envelope = :e WHERE id = :i"),
            {"e": decompress_envelope(packed), "i": entry_id},
        )
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_column("envelope_zlib")
    op.drop_table("case_number_counter")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))
    for instance_id, packed in bind.execute(sa.text("SELECT id, serialized FROM process_instance")).all():
        bind.execute(
            sa.text("UPDATE process_instance SET text = :t WHERE id = :i"),
            {"t": zlib.decompress(packed).decode("utf-8"), "i": instance_id},
        )
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_column("serialized")
        batch_op.alter_column("text", new_column_name="serialized", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_column("incident_detail")
        batch_op.drop_column("incident_kind")
