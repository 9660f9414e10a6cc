"""The message log (报文日志) for integrators: search, read one message's signed XML with its
verification result, send a dead message again, and prove the hash chain intact.

The log itself is :mod:`exchange.log`; this module adds who may read it, dates in Beijing time and
the envelope pretty-printed for a person (parsed with DTDs, entities and the network off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange import log as message_log
from exchange.models import MessageStatus, OutboxMessage
from huiju.calendar import CHINA
from huiju.db import Database
from huiju.errors import NotFoundError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Role
from huiju.services import audit
from huiju.services.actors import Actor

MAX_PRETTY_BYTES = 2 * 1024 * 1024

#: The log's codes, in words.
DIRECTIONS: dict[str, Message] = {"out": _("sent"), "in": _("received")}
KINDS: dict[str, Message] = {
    "request": _("request"),
    "reply": _("reply"),
    "callback": _("callback"),
    "refusal": _("refusal"),
}
SIGNATURES: dict[str, Message] = {
    "valid": _("signature valid"),
    "invalid": _("signature invalid"),
    "absent": _("not signed"),
    "not_checked": _("signed by Huiju"),
}
OUTCOMES: dict[str, Message] = {
    "sent": _("sent"),
    "delivered": _("delivered"),
    "transient_failure": _("failed, will retry"),
    "permanent_failure": _("failed"),
    "refused": _("refused"),
    "accepted": _("accepted"),
}
STATUSES: dict[str, Message] = {
    "pending": _("pending"),
    "delivered": _("delivered"),
    "dead": _("dead"),
    "cancelled": _("cancelled"),
}


def words(table: dict[str, Message], code: str | None, locale: str | None) -> str:
    message = table.get(code or "")
    return message.localize(locale) if message is not None else (code or "")


def _integrator(actor: Actor) -> None:
    if actor.role not in (Role.INTEGRATOR, Role.ADMINISTRATOR):
        raise PermissionDenied(_("only integrators and administrators read the message log"))


def pretty_xml(data: str | bytes | None) -> str:
    """An envelope indented for reading (what was signed are the bytes kept in the log, not these)."""
    if data is None:
        return ""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_PRETTY_BYTES or b"<!DOCTYPE" in raw[:4096].upper():
        return raw.decode("utf-8", errors="replace")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_blank_text=True)  # fmt: skip
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError:
        return raw.decode("utf-8", errors="replace")
    return etree.tostring(root, pretty_print=True, encoding="unicode")


@dataclass(frozen=True)
class LogFilter:
    message_id: str | None = None
    case_number: str | None = None
    system: str | None = None
    operation: str | None = None
    outcome: str | None = None
    direction: str | None = None
    since: date | None = None  # Beijing dates, inclusive
    until: date | None = None


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), CHINA)


def search(
    session: Session, actor: Actor, filters: LogFilter, *, limit: int = 100, offset: int = 0
) -> list[message_log.MessageLogEntry]:
    _integrator(actor)
    return message_log.query(
        session, message_id=filters.message_id or None, case_number=filters.case_number or None,
        system=filters.system or None, operation=filters.operation or None, outcome=filters.outcome or None,
        direction=filters.direction or None, since=_start(filters.since) if filters.since else None,
        until=_start(filters.until + timedelta(days=1)) if filters.until else None, limit=limit, offset=offset,
    )  # fmt: skip


@dataclass(frozen=True)
class MessageView:
    entry: message_log.MessageLogEntry
    pretty: str
    related: list[message_log.MessageLogEntry]  # the other entries of the same message id, in order
    outbox: OutboxMessage | None  # the outgoing message it belongs to (status, attempts, retry)

    @property
    def retryable(self) -> bool:
        return self.outbox is not None and self.outbox.status is MessageStatus.DEAD


def read_entry(session: Session, actor: Actor, entry_id: int) -> MessageView:
    _integrator(actor)
    entry = session.get(message_log.MessageLogEntry, entry_id)
    if entry is None:
        raise NotFoundError(_("no message log entry {entry}", entry=entry_id))
    key = entry.related_message_id or entry.message_id
    related = []
    outbox = None
    if key:
        related = message_log.query(session, message_id=key, limit=message_log.MAX_QUERY_LIMIT)[::-1]
        outbox = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == key)).one_or_none()
    return MessageView(entry, pretty_xml(entry.envelope), related, outbox)


def dead_messages(session: Session, actor: Actor, limit: int = 100) -> list[OutboxMessage]:
    """Messages that failed for good (or ran out of attempts): each may be sent again."""
    _integrator(actor)
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == MessageStatus.DEAD)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def verify_chain(db: Database, actor: Actor) -> message_log.ChainReport:
    """Prove the message log's hash chain intact, or name the first altered entry; the check is audited."""
    _integrator(actor)
    with db.sessions() as session:
        report = message_log.verify_chain(session)
    with db.transaction() as session:
        audit.record(session, actor, "message_log.verify", target_kind="message_log", target="chain",
                     detail=str(report.summary()))  # fmt: skip
    return report


def facets(session: Session) -> dict[str, Any]:
    """The systems and operations the log holds, for the search form's choices."""
    entry = message_log.MessageLogEntry
    systems = sorted(s for s in session.scalars(select(entry.system).distinct()) if s)
    operations = sorted(o for o in session.scalars(select(entry.operation).distinct()) if o)
    return {"systems": systems, "operations": operations}
