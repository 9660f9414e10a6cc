"""What administrators do to processes, running cases and the item catalogue, for the audit trail.

Every such action calls :func:`record` in the transaction that performs it, with who, what, on
which case or definition, and the values before and after. The entry is written as one structured
line of the ``huiju.audit`` log (JSON: canonical, sorted keys, UTF-8); the case operations are also
on the case's timeline, and deployments and catalogue changes keep who and when on their rows.
:data:`ACTIONS` gives each action its words.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from huiju.db import utcnow
from huiju.i18n import Message, _
from huiju.services.actors import Actor

log = logging.getLogger("huiju.audit")

#: The actions recorded here, in words (Chinese in the catalogue).
ACTIONS: dict[str, Message] = {
    "process.deploy": _("deployed a process"),
    "case.suspend": _("suspended a case"),
    "case.resume": _("resumed a case"),
    "case.move": _("moved a case to another step"),
    "case.migrate": _("migrated a case to another version"),
    "item.create": _("added an item to the catalogue"),
    "item.update": _("changed a catalogue item"),
    "item.publish": _("published a catalogue item"),
    "item.withdraw": _("withdrew a catalogue item"),
}


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_kind: str,
    target: str,
    case_number: str | None = None,
    definition: str | None = None,
    resident_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> None:
    """Record one administrative action, in the caller's transaction (``session``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audited action {action!r}")
    entry = {
        "at": utcnow().isoformat(timespec="microseconds"),
        "actor": actor.username,
        "role": actor.role.value,
        "action": action,
        "target_kind": target_kind,
        "target": target,
        "case_number": case_number,
        "definition": definition,
        "resident_id": resident_id,
        "before": dict(before) if before is not None else None,
        "after": dict(after) if after is not None else None,
        "detail": detail,
    }
    log.info(json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str))
