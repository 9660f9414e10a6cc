"""A resident roster import (居民信息导入): one uploaded file, checked whole, then applied in chunks.

The rows that passed every check wait in ``rows`` until they are applied (or only compared, in a dry
run) a chunk at a time, so that the page and the command line can show progress and an interrupted
import can go on where it stopped. ``refusals`` is the report of every refused row and why.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from huiju.db import Base, UTCDateTime, utcnow


class ImportStatus(enum.StrEnum):
    READY = "ready"  # checked; nothing applied yet
    RUNNING = "running"  # some chunks applied
    DONE = "done"


class RosterImport(Base):
    __tablename__ = "roster_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    dry_run: Mapped[bool]
    status: Mapped[ImportStatus] = mapped_column(Enum(ImportStatus, native_enum=False, length=16))
    total: Mapped[int]  # data rows in the file
    processed: Mapped[int] = mapped_column(default=0)  # accepted rows applied (or compared) so far
    added: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    #: The accepted rows, as checked: {"row", "id_number", "name", "phone", "address", "household", "community_id"}.
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: Every refused row: {"row": line number in the file, "name", "id_number" (masked), "reasons": [codes]}.
    refusals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def accepted(self) -> int:
        return len(self.rows)
