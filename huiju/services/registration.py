"""Registration of a resident account (居民注册), checked against the citizen information system.

Everything that can be checked here is checked first (ID number by GB 11643, phone, name,
password, an account already there); only then is the identity verified by a signed SOAP call to
the citizen information system (公民信息系统, VerifyIdentity), synchronously: the account is
created only if that system says the name belongs to the ID number. A refusal creates nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from huiju import idnumber
from huiju.db import Database
from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.i18n import _
from huiju.models import Org, OrgLevel, Resident, Role, User

#: Mainland mobile numbers: 11 digits starting with 1 and 3-9.
PHONE = re.compile(r"^1[3-9]\d{9}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
VERIFY_IDENTITY = "citizen_info.verify_identity"

#: (operation, params) -> reply: the call to the citizen information system (see exchange.direct).
IdentityCall = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Registration:
    phone: str
    name: str
    id_number: str
    password: str
    community_code: str | None = None  # asked only of a resident Huiju does not know yet


def check_password(password: str) -> None:
    """At least 8 characters, with letters and digits (the common rule of Chinese government sites)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(_("the password needs at least {n} characters", n=MIN_PASSWORD_LENGTH), field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(_("the password may have at most {n} characters", n=MAX_PASSWORD_LENGTH), field="password")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise InputError(_("the password needs both letters and digits"), field="password")


def _checked(form: Registration) -> Registration:
    phone = re.sub(r"[\s-]", "", form.phone)
    phone = phone[3:] if phone.startswith("+86") else phone
    if not PHONE.match(phone):
        raise InputError(_("'{phone}' is not a mainland mobile number (11 digits)", phone=form.phone), field="phone")
    name = form.name.strip()
    if not name or len(name) > 50:
        raise InputError(_("the name must have 1 to 50 characters"), field="name")
    id_number = idnumber.validate(form.id_number)
    check_password(form.password)
    return Registration(phone, name, id_number, form.password, form.community_code)


def register_resident(db: Database, call: IdentityCall, form: Registration) -> User:
    """Create a resident account, its resident linked or created; verified by the citizen system.

    InputError for bad input, ConflictError for an ID number or phone with an account already,
    PermissionDenied when the citizen information system does not confirm the identity, and the
    adapter's errors when it cannot be asked (nothing is created then either).
    """
    form = _checked(form)
    with db.sessions() as session:
        known = session.scalars(select(Resident).where(Resident.id_number == form.id_number)).one_or_none()
        if known is not None and session.scalar(select(User.id).where(User.resident_id == known.id)):
            raise ConflictError(_("this ID number has an account already; sign in, or reset the password "
                                  "at your community service centre"))  # fmt: skip
        if session.scalar(select(User.id).where(User.username == form.phone)):
            raise ConflictError(_("this phone number has an account already"), field="phone")
        if known is None:
            _community(session, form.community_code)  # refused before any call leaves
    reply = call(VERIFY_IDENTITY, {"id_number": form.id_number, "name": form.name})
    if not reply.get("match"):
        raise PermissionDenied(
            _("the citizen information system does not confirm that the name {name} belongs to ID number "
              "{id_number}; check both as written on your identity card", name=form.name,
              id_number=idnumber.mask(form.id_number))
        )  # fmt: skip
    with db.transaction() as session:
        resident = session.scalars(select(Resident).where(Resident.id_number == form.id_number)).one_or_none()
        if resident is None:
            community = _community(session, form.community_code)
            resident = Resident(
                id_number=form.id_number, name=form.name, phone=form.phone,
                birth_date=idnumber.birth_date(form.id_number), community_id=community.id,
            )  # fmt: skip
            session.add(resident)
            session.flush()
        elif session.scalar(select(User.id).where(User.resident_id == resident.id)):
            raise ConflictError(_("this ID number has an account already"))  # registered meanwhile
        else:
            resident.phone = form.phone
        user = User(username=form.phone, display_name=form.name, role=Role.RESIDENT,
                    org_id=resident.community_id, resident_id=resident.id)  # fmt: skip
        user.set_password(form.password)
        session.add(user)
        session.flush()
        return user


def _community(session: Any, code: str | None) -> Org:
    if not code:
        raise InputError(_("choose the community you live in"), field="community")
    org = session.scalars(select(Org).where(Org.code == code, Org.level == OrgLevel.COMMUNITY)).one_or_none()
    if org is None:
        raise InputError(_("unknown community '{code}'", code=code), field="community")
    return org


def communities(db: Database) -> list[Org]:
    with db.sessions() as session:
        return list(session.scalars(select(Org).where(Org.level == OrgLevel.COMMUNITY).order_by(Org.code)))
