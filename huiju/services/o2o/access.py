"""Who sees which orders, and for whom one may order.

- a resident (or a family member's account) sees the orders for themselves and for a parent linked
  to them (亲属绑定, with the parent's consent), whoever placed them; once a link ends, the parent's
  orders are out of sight and reach, those the family member placed included;
- a provider's staff see the orders their provider has now: offered to it or accepted by it; once an
  offer passes to the next provider, the order is no longer theirs to see;
- the platform operator and administrators see every order.

Any other order answers "not found", exactly like an order that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.errors import NotFoundError, PermissionDenied
from huiju.i18n import _
from huiju.models import FamilyLink, LinkStatus, Order, Provider, ProviderStaff, Resident, Role, User
from huiju.services.actors import Actor

#: Roles that see every order (read), and the one that runs the platform.
OVERSEERS = (Role.OPERATOR, Role.ADMINISTRATOR)


def user_of(session: Session, actor: Actor) -> User:
    user = session.scalars(select(User).where(User.username == actor.username)).one_or_none()
    if user is None:
        raise PermissionDenied(_("no account '{username}'", username=actor.username))
    return user


def provider_of(session: Session, actor: Actor) -> Provider:
    """The provider an account of role ``provider`` works for."""
    if actor.role is not Role.PROVIDER:
        raise PermissionDenied(_("only a provider's staff do this"))
    provider = session.scalars(
        select(Provider).join(ProviderStaff, ProviderStaff.provider_id == Provider.id)
        .join(User, User.id == ProviderStaff.user_id).where(User.username == actor.username)
    ).one_or_none()  # fmt: skip
    if provider is None:
        raise PermissionDenied(_("account {username} is bound to no provider", username=actor.username))
    return provider


def require_operator(actor: Actor) -> None:
    if actor.role is not Role.OPERATOR:
        raise PermissionDenied(_("only the platform operator does this"))


def linked_parent_ids(session: Session, actor: Actor) -> list[int]:
    """Residents linked to this account with their consent."""
    return list(
        session.scalars(
            select(FamilyLink.parent_id).join(User, User.id == FamilyLink.user_id)
            .where(User.username == actor.username, FamilyLink.status == LinkStatus.ACTIVE)
        )
    )  # fmt: skip


def beneficiaries(session: Session, actor: Actor) -> list[Resident]:
    """Whom the account may order for: the resident themselves (when a resident here) and linked parents."""
    if actor.role is not Role.RESIDENT:
        return []
    ids = linked_parent_ids(session, actor)
    if actor.resident_id is not None:
        ids = [actor.resident_id, *[i for i in ids if i != actor.resident_id]]
    found = {r.id: r for r in session.scalars(select(Resident).where(Resident.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def check_beneficiary(session: Session, actor: Actor, resident_id: int) -> Resident:
    for resident in beneficiaries(session, actor):
        if resident.id == resident_id:
            return resident
    raise PermissionDenied(_("you may order only for yourself or for a parent linked to your account"))


def visible_orders(session: Session, actor: Actor) -> Any:
    """A ``select(Order)`` limited to the orders the actor may see."""
    stmt = select(Order)
    if actor.role in OVERSEERS:
        return stmt
    if actor.role is Role.PROVIDER:
        provider = provider_of(session, actor)
        return stmt.where(Order.provider_id == provider.id)
    if actor.role is Role.RESIDENT:
        served = linked_parent_ids(session, actor)
        if actor.resident_id is not None:
            served.append(actor.resident_id)
        return stmt.where(Order.beneficiary_id.in_(served or [-1]))
    return stmt.where(Order.id == -1)


def get_order(session: Session, actor: Actor, number: str) -> Order:
    """An order the actor may see. Read without a lock: a service that changes it takes its process
    instance's lock first (by the engine step) and changes the order's row after, as the worker does."""
    order = session.scalars(visible_orders(session, actor).where(Order.number == number)).one_or_none()
    if order is None:
        raise NotFoundError(_("no order {number}", number=number))
    return order
