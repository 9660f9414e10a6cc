"""The organisation tree (district 区 → street office 街道 → community 社区) that accounts and the
roster refer to: listed, and added to by administrators (a production start has no demo offices)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Org, OrgLevel, Role
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.registration import PHONE

#: Administrative division codes: 6 digits for a district, 9 for a street, 12 for a community (GB/T 10114).
CODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")

#: The levels of the tree (:class:`huiju.models.OrgLevel`), in words.
LEVELS: dict[str, Message] = {
    OrgLevel.DISTRICT.value: _("district"),
    OrgLevel.STREET.value: _("street office"),
    OrgLevel.COMMUNITY.value: _("community"),
}


def list_offices(session: Session) -> list[Org]:
    return list(session.scalars(select(Org).order_by(Org.code)))


def add_office(
    session: Session, actor: Actor, code: str, name: str, level: str, parent: str | None = None,
    duty_phone: str | None = None,
) -> Org:  # fmt: skip
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators keep the offices"))
    code, name = code.strip(), name.strip()
    if not CODE.match(code):
        raise InputError(_("an office code is 6, 9 or 12 digits (GB/T 10114), not {code}", code=repr(code)))
    if not name or len(name) > 100:
        raise InputError(_("the office's name must have 1 to 100 characters"))
    try:
        org_level = OrgLevel(level)
    except ValueError:
        raise InputError(_("the level is district, street or community, not {level}", level=repr(level))) from None
    if session.scalar(select(Org.id).where(Org.code == code)) is not None:
        raise ConflictError(_("an office with code {code} exists already", code=code))
    parent_org = None
    if parent:
        parent_org = session.scalars(select(Org).where(Org.code == parent.strip())).one_or_none()
        if parent_org is None:
            raise InputError(_("no office {office} (give its code or its exact name)", office=repr(parent)))
    if duty_phone and not PHONE.match(duty_phone.strip()):
        raise InputError(_("'{phone}' is not a mainland mobile number (11 digits)", phone=duty_phone))
    org = Org(code=code, name=name, level=org_level, parent=parent_org, duty_phone=(duty_phone or "").strip() or None)
    try:
        org.check_parent()
    except ValueError:
        expected = {OrgLevel.STREET: "district", OrgLevel.COMMUNITY: "street"}.get(org_level)
        raise InputError(
            _("a {level} sits under a {parent}", level=org_level.value, parent=expected) if expected
            else _("a district sits under no other office")
        ) from None  # fmt: skip
    session.add(org)
    session.flush()
    after = {"name": name, "level": org_level.value, "parent": parent_org.code if parent_org else None}
    audit.record(session, actor, "office.create", target_kind="office", target=code, after=after)
    return org
