"""Exchange use cases for integrators: look up a message, send a dead one again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.models import MessageStatus, OutboxMessage
from huiju.errors import ConflictError, NotFoundError
from huiju.i18n import _


def get_outbox_message(session: Session, message_id: str) -> OutboxMessage:
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one_or_none()
    if message is None:
        raise NotFoundError(_("no message {message_id}", message_id=message_id))
    return message


def dead_message(session: Session, message_id: str) -> OutboxMessage:
    """The message, if it is dead (only a dead message may be sent again by hand)."""
    message = get_outbox_message(session, message_id)
    if message.status is not MessageStatus.DEAD:
        raise ConflictError(
            _("message {message_id} is {status}, not dead", message_id=message_id, status=message.status.value)
        )
    return message
