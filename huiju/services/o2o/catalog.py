"""What residents browse (services by category, with provider, price, area and free slots) and what
a provider keeps up to date itself: its services, prices and time slots. Service areas are agreed
with the platform and set by the operator (:mod:`huiju.services.o2o.providers`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from huiju.calendar import CHINA
from huiju.db import utcnow
from huiju.errors import InputError, NotFoundError
from huiju.i18n import _
from huiju.models import (
    Org,
    Provider,
    ProviderArea,
    ProviderStatus,
    Role,
    Service,
    ServiceCategory,
    ServiceUnit,
    TimeSlot,
)
from huiju.services.actors import Actor
from huiju.services.o2o.access import provider_of
from huiju.services.o2o.money import parse_fen, yuan

__all__ = ["parse_fen", "yuan"]  # re-exported for the pages

MAX_PRICE_FEN = 1_000_000  # ¥10,000 for one unit of a community service is a typing error
MAX_SLOTS_AT_ONCE = 200
_CODE = re.compile(r"^[A-Za-z0-9_-]{2,32}$")


def category_of(code: str) -> ServiceCategory:
    try:
        return ServiceCategory(code)
    except ValueError as exc:
        raise InputError(_("unknown service category '{code}'", code=code), field="category") from exc


@dataclass(frozen=True)
class Offering:
    """One service as a resident sees it: provider, price, and the free slots to come."""

    service: Service
    provider: Provider
    free_slots: list[TimeSlot]
    areas: list[str]  # the names of the communities the provider serves (服务区域)


def _serves(community_id: int) -> Any:
    return (
        select(ProviderArea.provider_id).where(ProviderArea.community_id == community_id).scalar_subquery()
    )  # fmt: skip


def offerings(
    session: Session, *, category: str | None = None, community_id: int | None = None, now: datetime | None = None
) -> list[Offering]:
    """Active services of active providers, by category and price; only those serving the community."""
    stmt = (
        select(Service).join(Provider, Provider.id == Service.provider_id)
        .where(Service.active.is_(True), Provider.status == ProviderStatus.ACTIVE)
        .options(selectinload(Service.provider))
        .order_by(Service.category, Service.price_fen, Service.id)
    )  # fmt: skip
    if category:
        stmt = stmt.where(Service.category == category_of(category))
    if community_id is not None:
        stmt = stmt.where(Service.provider_id.in_(_serves(community_id)))
    services = list(session.scalars(stmt))
    slots = free_slots(session, [s.id for s in services], now=now)
    areas = _area_names(session, {s.provider_id for s in services})
    return [Offering(s, s.provider, slots.get(s.id, []), areas.get(s.provider_id, [])) for s in services]


def _area_names(session: Session, provider_ids: set[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not provider_ids:
        return found
    rows = session.execute(
        select(ProviderArea.provider_id, Org.name).join(Org, Org.id == ProviderArea.community_id)
        .where(ProviderArea.provider_id.in_(provider_ids)).order_by(Org.code)
    )  # fmt: skip
    for provider_id, name in rows:
        found.setdefault(provider_id, []).append(name)
    return found


def free_slots(
    session: Session, service_ids: list[int], *, now: datetime | None = None, days: int = 14
) -> dict[int, list[TimeSlot]]:
    """Slots not full, starting from now to ``days`` ahead, per service."""
    start = now or utcnow()
    found: dict[int, list[TimeSlot]] = {}
    if not service_ids:
        return found
    rows = session.scalars(
        select(TimeSlot).where(
            TimeSlot.service_id.in_(service_ids), TimeSlot.starts_at > start,
            TimeSlot.starts_at < start + timedelta(days=days), TimeSlot.booked < TimeSlot.capacity,
        ).order_by(TimeSlot.starts_at)
    )  # fmt: skip
    for slot in rows:
        found.setdefault(slot.service_id, []).append(slot)
    return found


def get_service(session: Session, code: str) -> Service:
    service = session.scalars(select(Service).where(Service.code == code)).one_or_none()
    if service is None or not service.active or service.provider.status is not ProviderStatus.ACTIVE:
        raise NotFoundError(_("no service '{code}'", code=code))
    return service


def areas_of(session: Session, provider_id: int) -> list[Org]:
    return list(
        session.scalars(
            select(Org).join(ProviderArea, ProviderArea.community_id == Org.id)
            .where(ProviderArea.provider_id == provider_id).order_by(Org.code)
        )
    )  # fmt: skip


# -- a provider's own services and slots ---------------------------------------------------------------


def _own_service(session: Session, actor: Actor, code: str) -> Service:
    provider = provider_of(session, actor)
    service = session.scalars(select(Service).where(Service.code == code)).one_or_none()
    if service is None or service.provider_id != provider.id:
        raise NotFoundError(_("no service '{code}'", code=code))
    return service


def my_services(session: Session, actor: Actor) -> list[Service]:
    provider = provider_of(session, actor)
    return list(session.scalars(select(Service).where(Service.provider_id == provider.id).order_by(Service.id)))


def add_service(
    session: Session, actor: Actor, *, code: str, name: str, category: str, price_fen: int, unit: str,
    duration_minutes: int = 60, description: str = "", credit_eligible: bool = True, name_en: str = "",
) -> Service:  # fmt: skip
    provider = provider_of(session, actor)
    code = code.strip()
    if not _CODE.match(code):
        raise InputError(_("a service code has 2 to 32 letters, digits, '-' or '_'"), field="code")
    if session.scalar(select(Service.id).where(Service.code == code)) is not None:
        raise InputError(_("service code '{code}' is taken", code=code), field="code")
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InputError(_("a service name has 1 to 100 characters"), field="name")
    try:
        unit_value = ServiceUnit(unit)
    except ValueError as exc:
        raise InputError(_("unknown unit '{unit}'", unit=unit), field="unit") from exc
    if not 5 <= duration_minutes <= 24 * 60:
        raise InputError(_("a service lasts from 5 minutes to a day"), field="duration_minutes")
    service = Service(provider_id=provider.id, code=code, name=name, name_en=name_en.strip(),
                      category=category_of(category), price_fen=_price(price_fen), unit=unit_value,
                      duration_minutes=duration_minutes, description=description.strip()[:1000],
                      credit_eligible=credit_eligible, active=True)  # fmt: skip
    session.add(service)
    session.flush()
    return service


def _price(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PRICE_FEN:
        raise InputError(_("a price is a whole number of fen from 1 to {most}", most=MAX_PRICE_FEN), field="price")
    return value


def set_price(session: Session, actor: Actor, code: str, price_fen: int) -> Service:
    """A new price applies to orders placed from now on; orders placed keep theirs."""
    service = _own_service(session, actor, code)
    service.price_fen = _price(price_fen)
    return service


def set_active(session: Session, actor: Actor, code: str, active: bool) -> Service:
    """A provider takes its own service off the list (or back); the operator may do so for any."""
    if actor.role is Role.OPERATOR:
        service = session.scalars(select(Service).where(Service.code == code)).one_or_none()
        if service is None:
            raise NotFoundError(_("no service '{code}'", code=code))
    else:
        service = _own_service(session, actor, code)
    service.active = active
    return service


#: How far ahead a provider opens time slots.
SLOTS_AHEAD = timedelta(days=366)


def add_slots(
    session: Session, actor: Actor, code: str, starts: list[datetime], *, capacity: int = 1
) -> list[TimeSlot]:
    """Slots of one service, each as long as the service; a start already offered is skipped."""
    service = _own_service(session, actor, code)
    if not starts or len(starts) > MAX_SLOTS_AT_ONCE:
        raise InputError(_("give 1 to {most} start times", most=MAX_SLOTS_AT_ONCE), field="starts")
    if not 1 <= capacity <= 500:
        raise InputError(_("a slot takes from 1 to 500 orders"), field="capacity")
    now = utcnow()
    taken = set(session.scalars(select(TimeSlot.starts_at).where(TimeSlot.service_id == service.id)))
    added = []
    for start in sorted(set(starts)):
        if start.tzinfo is None:
            raise InputError(_("a start time needs its time zone"), field="starts")
        if start <= now:
            raise InputError(_("a slot must start in the future"), field="starts")
        if start > now + SLOTS_AHEAD:
            raise InputError(_("slots are opened at most a year ahead"), field="starts")
        if start in taken:
            continue
        slot = TimeSlot(service_id=service.id, starts_at=start, capacity=capacity, booked=0,
                        ends_at=start + timedelta(minutes=service.duration_minutes))  # fmt: skip
        session.add(slot)
        added.append(slot)
    session.flush()
    return added


def add_daily_slots(
    session: Session, actor: Actor, code: str, *, first_day: str, days: str, times: str, capacity: str
) -> list[TimeSlot]:
    """Slots as a page asks for them: from a first day, for a number of days, at times of day
    (``09:00, 14:00``) in Beijing time."""
    _own_service(session, actor, code)  # someone else's service is not found, whatever the form says
    try:
        day = datetime.strptime(first_day.strip(), "%Y-%m-%d").date()
        clock = [time.fromisoformat(t.strip()) for t in times.replace("，", ",").split(",") if t.strip()]
        count = int(days)
    except ValueError as exc:
        raise InputError(_("give a first day (2026-12-01), a number of days and times such as 09:00, 14:00"),
                         field="starts") from exc  # fmt: skip
    if not clock or not 1 <= count <= 60:
        raise InputError(_("give a first day (2026-12-01), a number of days and times such as 09:00, 14:00"),
                         field="starts")  # fmt: skip
    if day > (utcnow() + SLOTS_AHEAD).astimezone(CHINA).date():
        raise InputError(_("slots are opened at most a year ahead"), field="starts")
    starts = [datetime.combine(day + timedelta(days=d), t, tzinfo=CHINA) for d in range(count) for t in clock]
    return add_slots(session, actor, code, starts, capacity=int(capacity) if capacity.strip().isdigit() else 0)


def my_slots(session: Session, actor: Actor, *, now: datetime | None = None) -> list[TimeSlot]:
    provider = provider_of(session, actor)
    return list(
        session.scalars(
            select(TimeSlot).join(Service, Service.id == TimeSlot.service_id)
            .where(Service.provider_id == provider.id, TimeSlot.ends_at > (now or utcnow()))
            .order_by(TimeSlot.starts_at).limit(500)
        )
    )  # fmt: skip
