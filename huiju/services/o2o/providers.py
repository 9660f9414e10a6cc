"""The operator's side of providers (服务商管理): onboarding, service areas, staff accounts, suspension,
and the orders to watch (open, late, declined)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError
from huiju.i18n import _
from huiju.labels import ROLES
from huiju.models import (
    FINAL_ORDER,
    OfferOutcome,
    Order,
    OrderOffer,
    OrderStatus,
    Org,
    OrgLevel,
    Provider,
    ProviderArea,
    ProviderKind,
    ProviderStaff,
    ProviderStatus,
    Role,
    User,
)
from huiju.services.actors import Actor
from huiju.services.o2o.access import require_operator

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class Onboarding:
    code: str
    name: str
    kind: str
    credit_code: str
    contact_name: str
    phone: str
    fee_rate_bp: int = 500
    community_codes: tuple[str, ...] = ()


def providers(session: Session, actor: Actor) -> list[Provider]:
    require_operator(actor)
    return list(session.scalars(select(Provider).order_by(Provider.code)))


def get_provider(session: Session, code: str) -> Provider:
    provider = session.scalars(select(Provider).where(Provider.code == code)).one_or_none()
    if provider is None:
        raise NotFoundError(_("no provider '{code}'", code=code))
    return provider


def onboard(session: Session, actor: Actor, form: Onboarding) -> Provider:
    """Admit a provider: its identity (统一社会信用代码, GB 32100 check digit), contact and areas."""
    require_operator(actor)
    code = form.code.strip().upper()
    if not _CODE.match(code):
        raise InputError(_("a provider code has 2 to 32 capital letters, digits, '-' or '_'"), field="code")
    if session.scalar(select(Provider.id).where(Provider.code == code)) is not None:
        raise ConflictError(_("provider code '{code}' is taken", code=code), field="code")
    name = form.name.strip()
    if not 2 <= len(name) <= 100:
        raise InputError(_("a provider's name has 2 to 100 characters"), field="name")
    try:
        kind = ProviderKind(form.kind)
    except ValueError as exc:
        raise InputError(_("unknown kind of provider '{kind}'", kind=form.kind), field="kind") from exc
    credit_code = form.credit_code.strip().upper()
    if not uscc.is_valid(credit_code):
        raise InputError(_("'{code}' is not a valid unified social credit code (GB 32100)", code=form.credit_code),
                         field="credit_code")  # fmt: skip
    if session.scalar(select(Provider.id).where(Provider.credit_code == credit_code)) is not None:
        raise ConflictError(_("a provider with this credit code is onboarded already"), field="credit_code")
    if not _PHONE.match(form.phone.strip()):
        raise InputError(_("'{phone}' is not a mainland mobile number (11 digits)", phone=form.phone), field="phone")
    if not form.contact_name.strip():
        raise InputError(_("name the provider's contact person"), field="contact_name")
    if isinstance(form.fee_rate_bp, bool) or not 0 <= form.fee_rate_bp <= 3000:
        raise InputError(_("the platform fee is from 0 to 30 %"), field="fee_rate_bp")
    provider = Provider(
        code=code, name=name, kind=kind, credit_code=credit_code, contact_name=form.contact_name.strip(),
        phone=form.phone.strip(), status=ProviderStatus.ACTIVE, fee_rate_bp=form.fee_rate_bp,
    )  # fmt: skip
    session.add(provider)
    session.flush()
    set_areas(session, actor, code, list(form.community_codes))
    return provider


def set_areas(session: Session, actor: Actor, code: str, community_codes: list[str]) -> Provider:
    """The communities a provider serves, replaced as a whole."""
    require_operator(actor)
    provider = get_provider(session, code)
    wanted = {c.strip() for c in community_codes if c.strip()}
    found = {
        o.code: o for o in session.scalars(select(Org).where(Org.code.in_(wanted), Org.level == OrgLevel.COMMUNITY))
    }
    unknown = sorted(wanted - set(found))
    if unknown:
        raise InputError(_("unknown community '{code}'", code=unknown[0]), field="areas")
    for area in list(provider.areas):
        if area.community.code not in wanted:
            provider.areas.remove(area)
    have = {a.community_id for a in provider.areas}
    for org in found.values():
        if org.id not in have:
            provider.areas.append(ProviderArea(community_id=org.id))
    session.flush()
    return provider


def suspend(session: Session, actor: Actor, code: str, reason: str) -> Provider:
    """Stop a provider taking orders (暂停接单): not offered any more; accepted orders are still served."""
    require_operator(actor)
    provider = get_provider(session, code)
    reason = reason.strip()
    if not reason:
        raise InputError(_("say why the provider is suspended"), field="reason")
    provider.status, provider.suspended_reason = ProviderStatus.SUSPENDED, reason[:500]
    return provider


def reinstate(session: Session, actor: Actor, code: str) -> Provider:
    require_operator(actor)
    provider = get_provider(session, code)
    provider.status, provider.suspended_reason = ProviderStatus.ACTIVE, ""
    return provider


def bind_staff(session: Session, actor: Actor, code: str, username: str) -> ProviderStaff:
    """Bind an account of role ``provider`` to the provider it works for (one provider per account)."""
    if actor.role is not Role.ADMINISTRATOR:
        require_operator(actor)
    provider = get_provider(session, code)
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None or user.role is not Role.PROVIDER:
        raise InputError(_("'{username}' is not an account of the role {role}", username=username,
                           role=ROLES[Role.PROVIDER.value]), field="username")  # fmt: skip
    staff = session.scalars(select(ProviderStaff).where(ProviderStaff.user_id == user.id)).one_or_none()
    if staff is not None and staff.provider_id != provider.id:
        raise ConflictError(_("{username} works for another provider", username=username), field="username")
    if staff is None:
        staff = ProviderStaff(user_id=user.id, provider_id=provider.id)
        session.add(staff)
        session.flush()
    return staff


# -- orders to watch ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchedOrder:
    order: Order
    late: bool  # accepted but not done when its time slot ended, or still unassigned after its start
    declined: int  # how many providers declined it
    lapsed: int  # how many let the time to accept pass


def watch(session: Session, actor: Actor, *, which: str = "open", now: datetime | None = None) -> list[WatchedOrder]:
    """Orders for the operator: ``open`` (not ended), ``late``, ``declined`` (declined or lapsed at least once)."""
    require_operator(actor)
    if which not in ("open", "late", "declined", "all"):
        raise InputError(_("show open, late, declined or all orders"), field="show")
    now = now or utcnow()
    stmt = select(Order).order_by(Order.starts_at)
    if which != "all":
        stmt = stmt.where(Order.status.not_in(list(FINAL_ORDER)))
    found = []
    for order in session.scalars(stmt.limit(500)):
        outcomes = list(session.scalars(select(OrderOffer.outcome).where(OrderOffer.order_id == order.id)))
        declined = outcomes.count(OfferOutcome.DECLINED)
        lapsed = outcomes.count(OfferOutcome.LAPSED)
        late = (order.status in (OrderStatus.ACCEPTED, OrderStatus.ON_THE_WAY) and order.ends_at < now) or (
            order.status in (OrderStatus.DISPATCHED, OrderStatus.UNASSIGNED) and order.starts_at < now
        )
        if which == "late" and not late:
            continue
        if which == "declined" and not (declined or lapsed):
            continue
        found.append(WatchedOrder(order, late, declined, lapsed))
    return found
