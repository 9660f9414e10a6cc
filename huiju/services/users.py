"""Accounts and roles, kept by administrators: create, change role or office, disable, reset a password.

Each role sits where it works: a community officer (社区专干) in a community, a street reviewer
(街道审核) in a street office, a resident (居民) on a resident of the roster; administrators and
integrators in the district or nowhere. A reset password is a temporary one, shown once: the next
sign-in must choose a new one. Every change is recorded in the audit trail with what it was before.

Disabling ends the account's sessions everywhere: the console, the portal and the API read the
account again on every request and refuse a disabled one, and the tasks it held go back to the
queue of its office so that a colleague can take them.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from huiju import idnumber
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import Message, _
from huiju.labels import ROLES, Choices
from huiju.models import CaseEvent, Org, OrgLevel, Resident, Role, User
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.registration import check_password
from huiju.services.sessions import end_sessions_of_user
from workflows_bpmn.models import HumanTask, HumanTaskStatus

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TEMPORARY_PASSWORD_LENGTH = 12
MAX_DISPLAY_NAME = 100

#: The level of office each role works in (roles absent here may have none, or the district).
OFFICE_LEVEL: dict[Role, OrgLevel] = {
    Role.COMMUNITY_OFFICER: OrgLevel.COMMUNITY,
    Role.STREET_REVIEWER: OrgLevel.STREET,
}


@dataclass(frozen=True)
class NewAccount:
    username: str
    role: str
    display_name: str = ""
    office: str | None = None  # an org code, or its name
    resident_id_number: str | None = None  # for a resident: who on the roster
    password: str | None = None  # none: a temporary one, to be changed at the first sign-in


@dataclass(frozen=True)
class Created:
    user: User
    temporary_password: str | None


def _administrator(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators manage accounts"))


def _role(value: str) -> Role:
    try:
        return Role(value.strip())
    except ValueError:
        allowed = Choices("role", tuple(r.value for r in Role))
        raise InputError(_("unknown role '{role}'; one of: {allowed}", role=value.strip(), allowed=allowed)) from None


def temporary_password() -> str:
    """Random letters and digits (both present), as the password rule wants."""
    alphabet = string.ascii_letters + string.digits
    while True:
        word = "".join(secrets.choice(alphabet) for _i in range(TEMPORARY_PASSWORD_LENGTH))
        if any(c.isalpha() for c in word) and any(c.isdigit() for c in word):
            return word


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "role": user.role.value,
        "office": user.org.code if user.org is not None else None,
        "display_name": user.display_name,
        "active": user.active,
    }


def find_office(session: Session, value: str) -> Org:
    """An office by its code or its exact name."""
    text = value.strip()
    org = session.scalars(select(Org).where(or_(Org.code == text, Org.name == text)).limit(2)).all()
    if len(org) != 1:
        raise InputError(_("no office {office} (give its code or its exact name)", office=repr(text)))
    return org[0]


#: An office's level, in the words of the messages that name it.
_LEVEL_WORDS: dict[OrgLevel, Message] = {
    OrgLevel.DISTRICT: _("district-level office"),
    OrgLevel.STREET: _("street-level office"),
    OrgLevel.COMMUNITY: _("community-level office"),
}


def _office_for(session: Session, role: Role, office: str | None) -> Org | None:
    level = OFFICE_LEVEL.get(role)
    if level is None:
        if not office:
            return None
        org = find_office(session, office)
        return org
    if not office:
        raise InputError(
            _("{role} accounts belong to a {level}: name one", role=ROLES[role.value], level=_LEVEL_WORDS[level])
        )
    org = find_office(session, office)
    if org.level is not level:
        raise InputError(
            _("{office} is a {actual}; {role} accounts belong to a {level}", office=org.name,
              actual=_LEVEL_WORDS[org.level], role=ROLES[role.value], level=_LEVEL_WORDS[level])
        )  # fmt: skip
    return org


def get_user(session: Session, actor: Actor, username: str) -> User:
    _administrator(actor)
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise NotFoundError(_("no account {username}", username=username))
    return user


def list_users(
    session: Session, actor: Actor, *, query: str | None = None, role: str | None = None, limit: int = 200
) -> list[User]:
    """Accounts matching a part of the user name or display name, and a role; active ones first."""
    _administrator(actor)
    stmt = select(User)
    if query and query.strip():
        like = f"%{query.strip()}%"
        stmt = stmt.where(or_(User.username.like(like), User.display_name.like(like)))
    if role:
        stmt = stmt.where(User.role == _role(role))
    return list(session.scalars(stmt.order_by(User.active.desc(), User.role, User.username).limit(min(limit, 1000))))


def create_user(session: Session, actor: Actor, new: NewAccount) -> Created:
    _administrator(actor)
    username = new.username.strip().lower()
    if not USERNAME.match(username):
        raise InputError(
            _("the user name {name} must be 2 to 64 lowercase letters, digits, dots, hyphens or underscores",
              name=repr(new.username)), field="username"
        )  # fmt: skip
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(_("the account {username} exists already", username=username))
    role = _role(new.role)
    resident = None
    org: Org | None
    if role is Role.RESIDENT:
        if not new.resident_id_number:
            raise InputError(_("a resident's account needs the resident's ID number (from the roster)"))
        number = idnumber.validate(new.resident_id_number)
        resident = session.scalars(select(Resident).where(Resident.id_number == number)).one_or_none()
        if resident is None:
            raise InputError(_("no resident with this ID number on the roster; import or register them first"))
        if session.scalar(select(User.id).where(User.resident_id == resident.id)) is not None:
            raise ConflictError(_("this resident has an account already"))
        org = resident.community
    else:
        org = _office_for(session, role, new.office)
    display = (new.display_name or "").strip() or (resident.name if resident else username)
    if len(display) > MAX_DISPLAY_NAME:
        raise InputError(_("the display name may have at most {n} characters", n=MAX_DISPLAY_NAME))
    password = new.password
    temporary = None
    if password is None:
        password = temporary = temporary_password()
    else:
        check_password(password)
    user = User(username=username, display_name=display, role=role, org=org, resident=resident)
    user.set_password(password)
    user.must_change_password = temporary is not None
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", target_kind="user", target=username, after=_snapshot(user),
                 resident_id=resident.id if resident else None)  # fmt: skip
    return Created(user, temporary)


def _release_tasks(session: Session, actor: Actor, user: User, why: str) -> int:
    """The ready tasks the account holds go back to its office's queue (a colleague takes them)."""
    held = list(
        session.scalars(
            select(HumanTask).where(HumanTask.assignee == user.username, HumanTask.status == HumanTaskStatus.READY)
        )
    )
    for task in held:
        if task.case_id is not None:
            session.add(
                CaseEvent(case_id=task.case_id, kind="task_released", step=task.step, step_name=task.name,
                          actor=actor.username, detail=f"{user.username}: {why}", data={"task_id": task.id})
            )  # fmt: skip
    if held:
        session.execute(
            update(HumanTask)
            .where(HumanTask.id.in_([t.id for t in held]), HumanTask.status == HumanTaskStatus.READY)
            .values(assignee=None)
            .execution_options(synchronize_session=False)
        )
    return len(held)


def update_user(
    session: Session,
    actor: Actor,
    username: str,
    *,
    role: str | None = None,
    office: str | None = None,
    display_name: str | None = None,
) -> User:
    """Change an account's role, office or display name; tasks it held in its old office are released."""
    user = get_user(session, actor, username)
    before = _snapshot(user)
    new_role = _role(role) if role else user.role
    if Role.RESIDENT in (new_role, user.role) and new_role is not user.role:
        raise InputError(_("a resident's account cannot become an officer's, nor the other way round"))
    if user.username == actor.username and new_role is not Role.ADMINISTRATOR:
        raise ConflictError(_("you cannot take the administrator role from yourself"))
    if new_role is not user.role and user.role is Role.ADMINISTRATOR:
        _keep_an_administrator(session, user)
    if new_role is not Role.RESIDENT:
        wanted = office if office is not None else (user.org.code if user.org is not None else None)
        org = _office_for(session, new_role, wanted or None)
        if new_role is not user.role or (org.id if org else None) != user.org_id:
            _release_tasks(session, actor, user, "role or office changed")
        user.role, user.org = new_role, org
    if display_name is not None and display_name.strip():
        if len(display_name.strip()) > MAX_DISPLAY_NAME:
            raise InputError(_("the display name may have at most {n} characters", n=MAX_DISPLAY_NAME))
        user.display_name = display_name.strip()
    session.flush()
    after = _snapshot(user)
    if after != before:
        audit.record(session, actor, "user.update", target_kind="user", target=user.username, before=before,
                     after=after)  # fmt: skip
    return user


def _keep_an_administrator(session: Session, user: User) -> None:
    others = session.scalar(
        select(func.count(User.id)).where(User.role == Role.ADMINISTRATOR, User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise ConflictError(_("{username} is the last active administrator", username=user.username))


def end_sessions(session: Session, user: User) -> None:
    """End every session of the account, in the caller's transaction (portal and console alike)."""
    end_sessions_of_user(session, user.id)


def disable_user(session: Session, actor: Actor, username: str, reason: str = "") -> User:
    user = get_user(session, actor, username)
    if user.username == actor.username:
        raise ConflictError(_("you cannot disable your own account"))
    if not user.active:
        return user
    if user.role is Role.ADMINISTRATOR:
        _keep_an_administrator(session, user)
    before = _snapshot(user)
    user.active = False
    user.disabled_at = utcnow()
    released = _release_tasks(session, actor, user, "account disabled")
    end_sessions(session, user)
    session.flush()
    after = {**_snapshot(user), "released_tasks": released}
    audit.record(session, actor, "user.disable", target_kind="user", target=user.username, before=before,
                 after=after, detail=reason.strip()[:500] or None)  # fmt: skip
    return user


def enable_user(session: Session, actor: Actor, username: str) -> User:
    user = get_user(session, actor, username)
    if user.active:
        return user
    before = _snapshot(user)
    user.active = True
    user.disabled_at = None
    session.flush()
    audit.record(session, actor, "user.enable", target_kind="user", target=user.username, before=before,
                 after=_snapshot(user))  # fmt: skip
    return user


def reset_password(session: Session, actor: Actor, username: str) -> str:
    """A temporary password, shown once to the administrator; the next sign-in must replace it."""
    user = get_user(session, actor, username)
    password = temporary_password()
    user.set_password(password)
    user.must_change_password = True
    end_sessions(session, user)
    session.flush()
    audit.record(session, actor, "user.reset_password", target_kind="user", target=user.username,
                 after={"must_change_password": True})  # fmt: skip
    return password


def must_change_password(session: Session, username: str) -> bool:
    return bool(session.scalar(select(User.must_change_password).where(User.username == username)))
