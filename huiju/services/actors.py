"""Who is asking: an :class:`Actor` built from an account, and the scope it may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.errors import NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import Org, Role, User


@dataclass(frozen=True)
class Actor:
    username: str
    role: Role
    org_id: int | None = None
    street_id: int | None = None
    resident_id: int | None = None

    @property
    def is_officer(self) -> bool:
        return self.role in (Role.COMMUNITY_OFFICER, Role.STREET_REVIEWER)

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.ADMINISTRATOR, Role.INTEGRATOR)


SYSTEM = Actor("system", Role.ADMINISTRATOR)


def actor_for(user: User) -> Actor:
    street_id = None
    if user.org is not None:
        street = user.org.street
        street_id = street.id if street else None
    return Actor(user.username, user.role, user.org_id, street_id, user.resident_id)


def load_actor(session: Session, username: str) -> Actor:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or not user.active:
        raise NotFoundError(_("no active account '{username}'", username=username))
    return actor_for(user)


def authenticate(session: Session, username: str, password: str) -> Actor:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or not user.active or not user.check_password(password):
        raise PermissionDenied(_("wrong user name or password"))
    return actor_for(user)


def community_ids_of_street(session: Session, street_id: int) -> list[int]:
    return list(session.scalars(select(Org.id).where(Org.parent_id == street_id)))


def duty_phone(session: Session, org_id: int) -> str:
    """The duty mobile of an office, or of its street when the office has none ("" when neither has)."""
    org = session.get(Org, org_id)
    while org is not None:
        if org.duty_phone:
            return org.duty_phone
        org = org.parent
    return ""
