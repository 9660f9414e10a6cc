"""Linking a family member's account to an elderly parent (亲属绑定), once, with the parent's consent.

The family member names the parent (name and ID number, which must agree with our records) and says
who they are to them; a one-time code goes by SMS to the parent's phone on record, and the parent
tells it to them: typing it back is the consent. Where the parent has no mobile phone, a community
officer of the parent's community records the consent given at the service centre. A link can be
ended by the family member or, for the parent, by a community officer; orders already placed stay.

Like registration, the code is sent while the person waits (a direct call, :mod:`exchange.direct`),
and only a keyed hash of it is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju import idnumber
from huiju.db import Database, utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import FamilyLink, LinkStatus, Resident, Role, User
from huiju.services.actors import Actor
from huiju.services.o2o.access import user_of

RELATIONS = ("child", "spouse", "relative")
CODE_VALID = timedelta(minutes=10)
MAX_ATTEMPTS = 5
SEND_SMS = "sms.send_sms"
CODE_TEMPLATE = "FAMILY_LINK_CODE"
#: (operation, params) -> reply: a call made now (see exchange.direct.call_now).
Call = Callable[[str, dict[str, Any]], dict[str, Any]]


def _mac(secret: bytes, link_id: int, code: str) -> str:
    return hmac.new(secret, f"family-link|{link_id}|{code}".encode(), hashlib.sha256).hexdigest()


def _parent(session: Session, id_number: str, name: str) -> Resident:
    number = idnumber.validate(id_number)
    parent = session.scalars(select(Resident).where(Resident.id_number == number)).one_or_none()
    # Name and ID number must agree with our records; a wrong pair names no one (nothing leaks).
    if parent is None or parent.name != name.strip():
        raise InputError(_("no resident with this name and ID number is registered in a community here"),
                         field="parent")  # fmt: skip
    return parent


def request_link(
    db: Database, call: Call, actor: Actor, *, parent_id_number: str, parent_name: str, relation: str, secret: bytes
) -> int:
    """Ask the parent's consent: a code to the parent's phone; the pending link's id."""
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(_("only a resident's or a family member's account links to a parent"))
    if relation not in RELATIONS:
        raise InputError(_("say who you are to the parent"), field="relation")
    with db.transaction() as session:
        parent = _parent(session, parent_id_number, parent_name)
        if parent.id == actor.resident_id:
            raise InputError(_("you cannot link your account to yourself"), field="parent")
        if not parent.phone:
            raise InputError(_("{name} has no mobile phone on record: ask the community service centre to record "
                               "the consent", name=parent.name), field="parent")  # fmt: skip
        user = user_of(session, actor)
        link = session.scalars(
            select(FamilyLink).where(FamilyLink.user_id == user.id, FamilyLink.parent_id == parent.id)
        ).one_or_none()  # fmt: skip
        if link is not None and link.status is LinkStatus.ACTIVE:
            raise ConflictError(_("your account is linked to {name} already", name=parent.name))
        if link is None:
            link = FamilyLink(user_id=user.id, parent_id=parent.id, relation=relation, status=LinkStatus.PENDING)
            session.add(link)
            session.flush()
        code = f"{secrets.randbelow(10**6):06d}"
        link.relation, link.status, link.method = relation, LinkStatus.PENDING, None
        link.code_mac, link.code_expires_at, link.attempts = _mac(secret, link.id, code), utcnow() + CODE_VALID, 0
        link.requested_at = utcnow()
        link_id, phone, who = link.id, parent.phone, user.display_name
    # Sent after the commit: a code that went out belongs to a link that exists.
    call(SEND_SMS, {"phone": phone, "template": CODE_TEMPLATE,
                    "params": {"code": code, "who": who, "minutes": "10"}})  # fmt: skip
    return link_id


def confirm_link(db: Database, actor: Actor, link_id: int, code: str, secret: bytes) -> None:
    """The family member types the code the parent told them: the link is active. A wrong code is
    counted (in a transaction of its own, so that the count stays) and refused."""
    with db.transaction() as session:
        user = user_of(session, actor)
        link = session.get(FamilyLink, link_id)
        if link is None or link.user_id != user.id:
            raise NotFoundError(_("no link request {link_id}", link_id=link_id))
        if link.status is not LinkStatus.PENDING or link.code_mac is None or link.code_expires_at is None:
            raise ConflictError(_("this link does not wait for a code"))
        if link.code_expires_at < utcnow():
            raise InputError(_("the code has expired; ask for a new one"), field="code")
        if link.attempts >= MAX_ATTEMPTS:
            raise InputError(_("too many wrong codes; ask for a new one"), field="code")
        right = hmac.compare_digest(_mac(secret, link.id, code.strip()), link.code_mac)
        if right:
            link.status, link.method, link.consented_at, link.code_mac = (
                LinkStatus.ACTIVE, "sms_code", utcnow(), None,
            )  # fmt: skip
        else:
            link.attempts += 1
    if not right:
        raise InputError(_("the code is not the one we sent"), field="code")


def record_at_centre(
    session: Session, actor: Actor, *, username: str, parent_id_number: str, parent_name: str, relation: str
) -> FamilyLink:
    """A community officer records the parent's consent given at the service centre."""
    if actor.role is not Role.COMMUNITY_OFFICER:
        raise PermissionDenied(_("only a community officer records a consent at the service centre"))
    parent = _parent(session, parent_id_number, parent_name)
    if parent.community_id != actor.org_id:
        raise PermissionDenied(_("the parent lives in another community"))
    if relation not in RELATIONS:
        raise InputError(_("say who the family member is to the parent"), field="relation")
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or user.role is not Role.RESIDENT or not user.active:
        raise InputError(_("no resident account '{username}'", username=username), field="username")
    if user.resident_id == parent.id:
        raise InputError(_("you cannot link an account to its own resident"), field="username")
    link = session.scalars(
        select(FamilyLink).where(FamilyLink.user_id == user.id, FamilyLink.parent_id == parent.id)
    ).one_or_none()  # fmt: skip
    if link is None:
        link = FamilyLink(user_id=user.id, parent_id=parent.id, relation=relation, status=LinkStatus.PENDING)
        session.add(link)
    link.relation, link.status, link.method = relation, LinkStatus.ACTIVE, "service_centre"
    link.consented_at, link.recorded_by, link.code_mac = utcnow(), actor.username, None
    session.flush()
    return link


def my_links(session: Session, actor: Actor) -> list[FamilyLink]:
    user = user_of(session, actor)
    return list(session.scalars(select(FamilyLink).where(FamilyLink.user_id == user.id).order_by(FamilyLink.id)))


def revoke_link(session: Session, actor: Actor, link_id: int) -> FamilyLink:
    """The family member ends a link (or a community officer of the parent's community, for the parent)."""
    link = session.get(FamilyLink, link_id)
    allowed = link is not None and (
        (actor.role is Role.RESIDENT and link.user.username == actor.username)
        or (actor.role is Role.COMMUNITY_OFFICER and link.parent.community_id == actor.org_id)
    )
    if link is None or not allowed:
        raise NotFoundError(_("no link {link_id}", link_id=link_id))
    link.status, link.code_mac = LinkStatus.REVOKED, None
    return link
