"""Who is asking: an :class:`Actor` built from an account, and the scope it may see."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, joinedload

from huiju.db import Database, writes
from huiju.errors import NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import Org, Role, User
from huiju.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password

log = logging.getLogger(__name__)

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


def authenticate(session: Session, username: str, password: str) -> Actor:
    """The actor of an active account with this password; PermissionDenied otherwise.

    A hash is checked whether or not the account exists or is active, so that an unknown user name
    answers as slowly as a wrong password (OWASP ASVS 2.2.1: no account enumeration by timing).
    A right password whose hash is of an older form is stored again in today's (see
    :mod:`huiju.passwords`).
    """
    user = session.scalars(select(User).where(User.username == username).options(*WITH_OFFICE)).one_or_none()
    right = user.check_password(password) if user is not None else verify_password(DUMMY_HASH, password)
    if user is None or not user.active or not right:
        raise PermissionDenied(_("wrong user name or password"))
    if needs_rehash(user.password_hash):
        _store_again(session, user, password)
    return actor_for(user)


def _store_again(session: Session, user: User, password: str) -> None:
    """Store a password proved right in today's form: in the caller's write transaction, or after a
    read in one of its own. Only over the hash just checked (a change meanwhile wins); a failure
    leaves the old hash, which still verifies, for the next sign-in."""
    renewal = (
        update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=hash_password(password))
        .execution_options(synchronize_session=False)
    )
    if writes(session):
        session.execute(renewal)
        return
    try:
        with Database.of(session).transaction() as writing:
            writing.execute(renewal)
    except SQLAlchemyError:
        log.warning("the password hash of %s was not renewed; it is tried again at the next sign-in", user.username,
                    exc_info=True)  # fmt: skip


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
