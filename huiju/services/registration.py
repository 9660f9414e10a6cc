"""Registration of a resident account (居民注册), checked against the citizen information system.

Two steps. :func:`start_registration` checks what can be checked here (ID number by GB 11643, phone,
name, password), then the identity by a signed SOAP call to the citizen information system (公民信息
系统, VerifyIdentity), then whether an account exists already (only for a name that belongs to the ID
number, so that nobody learns who is registered from a number alone), and sends a one-time code by
SMS to the phone: to the one on record when Huiju knows the resident. :func:`confirm_registration`
creates the account when the code comes back. Knowing someone's name and ID number is not enough to
take their place: the code goes to their phone. A refusal creates nothing.

The pending registration is kept on the server (``pending_registration``), found by the SHA-256 of
a random token that the resident's session holds; it keeps a keyed hash of the code (HMAC with the
app's secret), never the code, and the password only hashed. Wrong codes are counted there, in the
same transaction that compares the code: neither a resent old cookie nor parallel requests can reset
or outrun the count (OWASP ASVS 2.2.1).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju import idnumber
from huiju.db import Database, utcnow
from huiju.errors import ConflictError, InputError, PermissionDenied
from huiju.i18n import _
from huiju.models import Org, OrgLevel, PendingRegistration, Resident, Role, User
from huiju.passwords import hash_password

#: Mainland mobile numbers: 11 digits starting with 1 and 3-9.
PHONE = re.compile(r"^1[3-9]\d{9}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
VERIFY_IDENTITY = "citizen_info.verify_identity"
SEND_SMS = "sms.send_sms"
CODE_TEMPLATE = "REGISTRATION_CODE"
CODE_VALID = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
#: The "community" of a relative who lives elsewhere (异地亲属): an account with no resident record
#: here, to order community services for a parent linked to it (huiju.services.o2o.family).
ELSEWHERE = "elsewhere"

#: (operation, params) -> reply: a call to a government system made now (see exchange.direct).
IdentityCall = Callable[[str, dict[str, Any]], dict[str, Any]]


def _code_mac(secret: bytes, phone: str, id_number: str, code: str) -> str:
    return hmac.new(secret, f"{phone}|{id_number}|{code}".encode(), hashlib.sha256).hexdigest()


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


def start_registration(db: Database, call: IdentityCall, form: Registration, secret: bytes) -> str:
    """Check the form and the identity, then send a one-time code by SMS; no account is created yet.
    Returns the token of the registration waiting for its code (kept in the resident's session).

    InputError for bad input, PermissionDenied when the citizen information system does not confirm
    the identity, ConflictError when that identity (or the phone) has an account already, and the
    adapters' errors when a system cannot be asked.
    """
    form = _checked(form)
    with db.sessions() as session:
        unknown = session.scalars(select(Resident.id).where(Resident.id_number == form.id_number)).first() is None
        if unknown and form.community_code != ELSEWHERE:
            _community(session, form.community_code)  # refused before any call leaves
    reply = call(VERIFY_IDENTITY, {"id_number": form.id_number, "name": form.name})
    if not reply.get("match"):
        raise PermissionDenied(
            _("the citizen information system does not confirm that the name {name} belongs to ID number "
              "{id_number}; check both as written on your identity card", name=form.name,
              id_number=idnumber.mask(form.id_number))
        )  # fmt: skip
    with db.sessions() as session:
        known = session.scalars(select(Resident).where(Resident.id_number == form.id_number)).one_or_none()
        if known is not None and session.scalar(select(User.id).where(User.resident_id == known.id)):
            raise ConflictError(_("this ID number has an account already; sign in, or reset the password "
                                  "at your community service centre"))  # fmt: skip
        if session.scalar(select(User.id).where(User.username == form.phone)):
            raise ConflictError(_("this phone number has an account already"), field="phone")
        if known is not None and not known.phone:
            # Known here but without a phone on record: a code sent to any phone typed in would not
            # show who is registering; the community records the phone first.
            raise InputError(
                _("your community has no phone number on record for you; have it recorded at your community "
                  "service centre, then register with it"),
                field="phone",
            )  # fmt: skip
        if known is not None and known.phone != form.phone:
            raise InputError(
                _("register with the phone number your community has on record for you, or have it changed "
                  "at your community service centre"),
                field="phone",
            )  # fmt: skip
    code = f"{secrets.randbelow(10**6):06d}"
    call(SEND_SMS, {"phone": form.phone, "template": CODE_TEMPLATE, "params": {"code": code, "minutes": "10"}})
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        session.add(
            PendingRegistration(
                token_hash=_token_hash(token), phone=form.phone, name=form.name, id_number=form.id_number,
                password_hash=hash_password(form.password), community_code=form.community_code,
                code_mac=_code_mac(secret, form.phone, form.id_number, code), attempts=0,
                expires_at=utcnow() + CODE_VALID,
            )
        )  # fmt: skip
    return token


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def pending_phone(db: Database, token: str) -> str | None:
    """The phone a waiting registration's code was sent to, or None (no such registration, expired)."""
    with db.sessions() as session:
        row = session.get(PendingRegistration, _token_hash(token))
        return row.phone if row is not None and row.expires_at >= utcnow() else None


def confirm_registration(db: Database, token: str, code: str, secret: bytes) -> User:
    """Create the resident account once the SMS code comes back; its resident linked or created.

    Every attempt is counted first, in the transaction that reads the registration (locked), and
    the count is kept when the code is wrong: after MAX_CODE_ATTEMPTS the registration is void.
    """
    with db.transaction() as session:
        pending = session.scalars(
            select(PendingRegistration).where(PendingRegistration.token_hash == _token_hash(token)).with_for_update()
        ).one_or_none()
        if pending is None:
            raise InputError(_("there is no registration waiting for a code; register again"), field="code")
        if pending.expires_at < utcnow():
            session.delete(pending)
            raise_after = InputError(_("the code has expired; register again"), field="code")
        elif pending.attempts >= MAX_CODE_ATTEMPTS:
            raise_after = InputError(_("too many wrong codes; register again"), field="code")
        else:
            raise_after = None
            pending.attempts += 1
            given = code.strip()
            if hmac.compare_digest(_code_mac(secret, pending.phone, pending.id_number, given), pending.code_mac):
                user = _create_account(session, pending)
                session.delete(pending)
                return user
            # A wrong code: the attempt stays counted (this transaction commits), then it is refused.
    if raise_after is not None:
        raise raise_after
    raise InputError(_("the code is not the one we sent"), field="code")


def _create_account(session: Session, pending: PendingRegistration) -> User:
    resident = session.scalars(select(Resident).where(Resident.id_number == pending.id_number)).one_or_none()
    if resident is None and pending.community_code == ELSEWHERE:
        return _family_account(session, pending)
    if resident is None:
        community = _community(session, pending.community_code)
        resident = Resident(
            id_number=pending.id_number, name=pending.name, phone=pending.phone,
            birth_date=idnumber.birth_date(pending.id_number), community_id=community.id,
        )  # fmt: skip
        session.add(resident)
        session.flush()
    elif session.scalar(select(User.id).where(User.resident_id == resident.id)):
        raise ConflictError(_("this ID number has an account already"))  # registered meanwhile
    elif session.scalar(select(User.id).where(User.username == pending.phone)):
        raise ConflictError(_("this phone number has an account already"), field="phone")
    else:
        resident.phone = resident.phone or pending.phone
    user = User(username=pending.phone, display_name=pending.name, role=Role.RESIDENT,
                org_id=resident.community_id, resident_id=resident.id,
                password_hash=pending.password_hash)  # fmt: skip
    session.add(user)
    session.flush()
    return user


def _family_account(session: Any, pending: PendingRegistration) -> User:
    """A relative living elsewhere: their identity checked, their phone confirmed, no resident record."""
    if session.scalar(select(User.id).where(User.username == pending.phone)):
        raise ConflictError(_("this phone number has an account already"), field="phone")
    user = User(username=pending.phone, display_name=pending.name, role=Role.RESIDENT,
                password_hash=pending.password_hash)  # fmt: skip
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
