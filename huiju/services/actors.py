"""Who is asking: an :class:`Actor` built from an account, and the scope it may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash

from huiju.errors import NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import Org, Role, User

#: The roles that see every task, case and message.
EVERY_TASK_ROLES = frozenset({Role.ADMINISTRATOR, Role.INTEGRATOR})


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
        return self.role in EVERY_TASK_ROLES


SYSTEM = Actor("system", Role.ADMINISTRATOR)


#: A user read with their office and the street above it, which their actor names (one statement).
WITH_OFFICE = (joinedload(User.org).joinedload(Org.parent),)


def actor_for(user: User) -> Actor:
    street_id = None
    if user.org is not None:
        street = user.org.street
        street_id = street.id if street else None
    return Actor(user.username, user.role, user.org_id, street_id, user.resident_id)


def find_user(session: Session, username: str) -> User | None:
    """The account named ``username``, with its office (:data:`WITH_OFFICE`), active or not."""
    return session.scalars(select(User).where(User.username == username).options(*WITH_OFFICE)).one_or_none()


def load_actor(session: Session, username: str) -> Actor:
    user = find_user(session, username)
    if user is None or not user.active:
        raise NotFoundError(_("no active account '{username}'", username=username))
    return actor_for(user)


#: Checked when there is no account to check: a hash of a random, forgotten password, made with the
#: method and cost werkzeug gives real passwords (a test holds them equal), so that an unknown user
#: name costs exactly what a wrong password does, from the first sign-in of a process on.
DUMMY_HASH = (
    "scrypt:32768:8:1$Os8MMkBmS1zw6xEp$08a58fe03213395457e7667985a66d4326019c87680eb897ef2e5eb6adfe3a5b7ac7e45f"
    "0941606d77f95b75d6429bff210ed1d774c0196c0221addb703a90d1"
)


def authenticate(session: Session, username: str, password: str) -> Actor:
    """The actor of an active account with this password; PermissionDenied otherwise.

    A hash is checked whether or not the account exists or is active, so that an unknown user name
    answers as slowly as a wrong password (OWASP ASVS 2.2.1: no account enumeration by timing).
    """
    user = session.scalars(select(User).where(User.username == username).options(*WITH_OFFICE)).one_or_none()
    right = user.check_password(password) if user is not None else check_password_hash(DUMMY_HASH, password)
    if user is None or not user.active or not right:
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
