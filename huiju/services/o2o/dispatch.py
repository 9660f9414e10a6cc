"""A provider's answers and steps on an order, and the operator's dispatch of one nobody accepted.

A provider's staff accept or decline an order offered to their provider within the offer's time
limit (after it, the process has offered it to the next provider and the order is no longer theirs
to see), then mark it arrived (上门) and done (完成, with a note and an optional photo). The operator
assigns a provider to an order no provider accepted in time, or cancels it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.db import utcnow
from huiju.errors import ConflictError, InputError
from huiju.i18n import _
from huiju.models import (
    OfferOutcome,
    Order,
    OrderOffer,
    OrderStatus,
    Provider,
    ProviderArea,
    ProviderStatus,
    Service,
)
from huiju.services import materials
from huiju.services.actors import Actor
from huiju.services.o2o.access import get_order, provider_of, require_operator
from huiju.services.o2o.orders import MAX_NOTE, event, ready_task
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.runner import Engine

PHOTO_CODE = "service_photo"


def _note(text: str, field: str = "note") -> str:
    text = (text or "").strip()
    if len(text) > MAX_NOTE:
        raise InputError(_("the note may have at most {n} characters", n=MAX_NOTE), field=field)
    return text


def _pending_offer(session: Session, order: Order, provider: Provider) -> OrderOffer:
    offer = session.scalars(
        select(OrderOffer).where(OrderOffer.order_id == order.id, OrderOffer.provider_id == provider.id,
                                 OrderOffer.outcome == OfferOutcome.PENDING)
    ).first()  # fmt: skip
    if offer is None:
        raise ConflictError(_("order {number} is not offered to you (any more)", number=order.number))
    return offer


def answer_offer(
    session: Session, engine: Engine, actor: Actor, number: str, *, accept: bool, reason: str = ""
) -> StepResult:
    """Accept (接单) or decline (拒单, saying why) an order offered to the actor's provider."""
    provider = provider_of(session, actor)
    order = get_order(session, actor, number)
    reason = _note(reason, "reason")
    if not accept and not reason:
        raise InputError(_("say why you decline the order"), field="reason")
    if accept and provider.status is not ProviderStatus.ACTIVE:
        raise ConflictError(_("{provider} is suspended and takes no orders", provider=provider.name))
    offer = _pending_offer(session, order, provider)
    task = ready_task(session, order, "answer_offer")
    if task is None or task.id != offer.task_id:
        raise ConflictError(_("order {number} is not offered to you (any more)", number=number))
    decision = "accept" if accept else "decline"
    form = {"decision": decision, "reason": reason, "provider": provider.code}
    # The step first: it locks the process instance, and only then are the order's rows changed
    # (the worker's steps lock in the same order; the other way round two writers could deadlock).
    result = engine.complete_task(session, task.id, actor.username, form)
    offer.outcome = OfferOutcome.ACCEPTED if accept else OfferOutcome.DECLINED
    offer.answered_at, offer.reason = utcnow(), reason
    if accept and order.status is OrderStatus.DISPATCHED:
        # Accepted now, for the orderer and the provider alike. The offer's turn ends with the
        # answer (a terminate end event: its SMS not sent by then are not sent any more), so the
        # service's start is ready in this same step; on the process's versions before that, the
        # turn waited for its SMS to be answered, and a slow SMS platform must not hold the order back.
        order.status, order.accepted_at = OrderStatus.ACCEPTED, order.accepted_at or utcnow()
    event(order, "accepted" if accept else "declined", actor.username, reason or provider.name,
          provider=provider.code)  # fmt: skip
    return result


def arrive(session: Session, engine: Engine, actor: Actor, number: str) -> StepResult:
    """The provider's worker is on the way / at the door (上门服务中)."""
    provider_of(session, actor)
    order = get_order(session, actor, number)
    task = ready_task(session, order, "start_service")
    if task is None and order.status is OrderStatus.ACCEPTED:  # an earlier version's order (see answer_offer)
        raise ConflictError(_("order {number} was accepted a moment ago: its service can start once the offer's "
                              "text messages have gone out, usually within seconds; try again shortly",
                              number=number))  # fmt: skip
    if task is None or order.status is not OrderStatus.ACCEPTED:
        raise ConflictError(_("order {number} is not waiting for the provider to arrive", number=number))
    result = engine.complete_task(session, task.id, actor.username, {"decision": "arrive"})
    order.arrived_at = utcnow()
    event(order, "on_the_way", actor.username)
    return result


def finish(
    session: Session, engine: Engine, uploads: materials.UploadStore, actor: Actor, number: str, note: str,
    photo: materials.Upload | None = None,
) -> StepResult:  # fmt: skip
    """The service is done (服务完成): a note for the orderer, and a photo if there is one."""
    provider_of(session, actor)
    order = get_order(session, actor, number)
    task = ready_task(session, order, "finish_service")
    if task is None or order.status is not OrderStatus.ON_THE_WAY:
        raise ConflictError(_("order {number} is not being served now", number=number))
    note = _note(note)
    if not note:
        raise InputError(_("say what was done"), field="note")
    stored = None
    if photo is not None:
        upload = materials.Upload(PHOTO_CODE, photo.filename, photo.data)
        stored = materials.store(session, uploads, actor, upload, unattached=True, allowed_codes={PHOTO_CODE})
    result = engine.complete_task(session, task.id, actor.username, {"decision": "done", "note": note})
    order.done_note, order.done_at = note, utcnow()
    order.done_photo_id = stored.id if stored is not None else order.done_photo_id
    event(order, "done", actor.username, note)
    return result


def pending_offers(session: Session, actor: Actor) -> list[tuple[Order, OrderOffer]]:
    """The orders offered to the actor's provider now, soonest due first."""
    provider = provider_of(session, actor)
    rows = session.execute(
        select(Order, OrderOffer).join(OrderOffer, OrderOffer.order_id == Order.id)
        .where(OrderOffer.provider_id == provider.id, OrderOffer.outcome == OfferOutcome.PENDING,
               Order.provider_id == provider.id)
        .order_by(OrderOffer.due_at)
    ).all()  # fmt: skip
    return [(order, offer) for order, offer in rows]


# -- the operator ----------------------------------------------------------------------------------------


def eligible_providers(session: Session, order: Order) -> list[Provider]:
    """Active providers with an active service of the order's category in its area."""
    return list(
        session.scalars(
            select(Provider).join(Service, Service.provider_id == Provider.id)
            .join(ProviderArea, ProviderArea.provider_id == Provider.id)
            .where(Service.category == order.category, Service.active.is_(True),
                   Provider.status == ProviderStatus.ACTIVE, ProviderArea.community_id == order.community_id)
            .distinct().order_by(Provider.code)
        )
    )  # fmt: skip


def assign(session: Session, engine: Engine, actor: Actor, number: str, provider_code: str) -> StepResult:
    """The operator gives an order nobody accepted to a provider who agreed to take it (人工派单)."""
    require_operator(actor)
    order = get_order(session, actor, number)
    task = ready_task(session, order, "operator_dispatch")
    if task is None or order.status is not OrderStatus.UNASSIGNED:
        raise ConflictError(_("order {number} is not waiting to be dispatched by hand", number=number))
    provider = next((p for p in eligible_providers(session, order) if p.code == provider_code), None)
    if provider is None:
        raise InputError(_("{code} is not an active provider of this service in the order's area",
                           code=provider_code or "-"), field="provider")  # fmt: skip
    form = {"decision": "assign", "provider_code": provider.code, "provider_name": provider.name,
            "provider_phone": provider.phone}  # fmt: skip
    result = engine.complete_task(session, task.id, actor.username, form)
    order.provider_id = provider.id
    event(order, "assigned", actor.username, provider.name, provider=provider.code)
    return result
