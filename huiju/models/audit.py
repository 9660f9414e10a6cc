"""The audit trail (审计日志): who did what to which case, definition or account, and who read whose
personal data, appended in order and chained by hash like the message log.

PIPL art. 51–55 ask a processor of sensitive personal information to control and record access to
it; this table is that record. Rows are never updated or deleted: triggers refuse it in the
database (:data:`APPEND_ONLY_DDL`), and the hash chain (:mod:`huiju.services.audit`) shows any row
changed by someone who got past them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from huiju.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_actor", "actor"),
        Index("ix_audit_entry_action", "action"),
        Index("ix_audit_entry_case_number", "case_number"),
        Index("ix_audit_entry_resident_id", "resident_id"),
    )

    # A gapless sequence assigned under the chain lock (a missing number means a removed row).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))  # the account, or "system"
    role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # console, portal, api, cli
    address: Mapped[str | None] = mapped_column(String(64))  # the client's IP address (web only)
    action: Mapped[str] = mapped_column(String(64))  # e.g. user.disable, case.read, task.complete
    target_kind: Mapped[str] = mapped_column(String(32))  # user, case, material, adapter, definition ...
    target: Mapped[str] = mapped_column(String(128))
    case_number: Mapped[str | None] = mapped_column(String(32))
    definition: Mapped[str | None] = mapped_column(String(128))  # process id and version
    resident_id: Mapped[int | None] = mapped_column(Integer)  # whose personal data, where there is one
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON of what changed, as it was
    after: Mapped[str | None] = mapped_column(Text)  # ... and as it became
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


#: The fields an entry's hash covers (with ``prev_hash``), see :mod:`huiju.services.audit`.
HASHED_FIELDS: tuple[str, ...] = (
    "id", "at", "actor", "role", "channel", "address", "action", "target_kind", "target", "case_number",
    "definition", "resident_id", "before", "after", "detail", "prev_hash",
)  # fmt: skip

#: Triggers that refuse UPDATE and DELETE of audit entries, per database (created with the table).
APPEND_ONLY_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$",
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    ),
}

for _dialect, _statements in APPEND_ONLY_DDL.items():
    for _statement in _statements:
        ddl = DDL(_statement)  # type: ignore[no-untyped-call]
        event.listen(AuditEntry.__table__, "after_create", ddl.execute_if(dialect=_dialect))
