"""Messages to the government systems, for integrators: send a dead one again."""

from __future__ import annotations

from sqlalchemy.orm import Session

from exchange.service import dead_message
from huiju.errors import ConflictError, PermissionDenied
from huiju.i18n import _
from huiju.models import Role
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.cases import get_case
from workflows_bpmn.runner import Engine


def retry_message(session: Session, engine: Engine, actor: Actor, message_id: str) -> str:
    """Send a dead message again, with the same message id, so that the receiver acts once.

    Integrators and administrators may retry any message; officers those of cases they see.
    """
    if actor.role not in (Role.INTEGRATOR, Role.ADMINISTRATOR, Role.COMMUNITY_OFFICER, Role.STREET_REVIEWER):
        raise PermissionDenied(_("only integrators and officers may send a message again"))
    message = dead_message(session, message_id)
    if message.case_number and not actor.sees_everything:
        get_case(session, actor, message.case_number)  # not found unless the officer sees the case
    if message.process_instance_id is None:
        raise ConflictError(_("message {message_id} belongs to no process", message_id=message_id))
    audit.record(session, actor, "message.retry", target_kind="message", target=message_id,
                 case_number=message.case_number, before={"status": message.status.value},
                 detail=message.last_error)  # fmt: skip
    engine.retry_incident(session, message.process_instance_id, actor.username, message_id=message_id)
    return message_id
