"""The community-services routes of ``/api/v1`` (``/o2o/...``): providers with systems of their own
take offered orders, decline them, mark them arrived and done, and keep their services, prices and
slots — the same verbs as the provider pages of the console. Residents' apps read their orders.
Who sees which order is the service layer's: a provider its own, a family member the linked
parent's, the operator all; any other answers 404."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from huiju.api.auth import current_actor, login_required
from huiju.api.schemas import MAX_LIMIT, json_body, query_int
from huiju.errors import InputError
from huiju.i18n import _
from huiju.models import OfferOutcome, Order, Role, Service, TimeSlot
from huiju.services import materials
from huiju.services.actors import Actor
from huiju.services.o2o import catalog, dispatch, orders
from huiju.services.o2o.access import get_order
from huiju.services.o2o.pages import payment_state
from huiju.web.runtime import runtime


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def order_json(session: Session, order: Order, actor: Actor, *, detail: bool = False) -> dict[str, Any]:
    offer = next((o for o in reversed(orders.offers_of(session, order)) if o.outcome is OfferOutcome.PENDING), None)
    payment = payment_state(order)
    body: dict[str, Any] = {
        "number": order.number, "status": order.status.value, "category": order.category.value,
        "service": {"code": order.service.code, "name": order.service.name},
        "provider": order.provider.code if order.provider else None,
        "starts_at": _iso(order.starts_at), "ends_at": _iso(order.ends_at), "quantity": order.quantity,
        "unit_price_fen": order.unit_price_fen, "total_fen": order.total_fen, "credit_fen": order.credit_fen,
        "cash_fen": order.cash_fen, "payment_status": order.payment_status.value,
        "beneficiary": {"name": order.beneficiary.name, "phone": order.beneficiary.phone},
        "address": order.address, "note": order.note, "contact_phone": order.contact_phone,
        "offer_due_at": _iso(offer.due_at) if offer is not None else None,
        "placed_at": _iso(order.placed_at), "done_note": order.done_note, "payment": payment,
        "pay_url": order.pay_url if actor.role is Role.RESIDENT and payment == "awaited" else None,
    }  # fmt: skip
    if detail:
        body["timeline"] = [
            {"at": _iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail} for e in order.events
        ]
    return body


@login_required
def list_orders() -> ResponseReturnValue:
    actor = current_actor()
    limit = query_int("limit", 100, minimum=1, maximum=MAX_LIMIT)
    offset = query_int("offset", 0, minimum=0)
    with runtime().db.sessions() as session:
        found = orders.list_orders(session, actor, status=request.args.get("status") or None, limit=limit,
                                   offset=offset)  # fmt: skip
        return {"orders": [order_json(session, o, actor) for o in found], "limit": limit, "offset": offset}


@login_required
def get_one(number: str) -> ResponseReturnValue:
    actor = current_actor()
    with runtime().db.sessions() as session:
        return order_json(session, get_order(session, actor, number), actor, detail=True)


def _after(session: Session, actor: Actor, number: str) -> dict[str, Any]:
    session.flush()
    return order_json(session, get_order(session, actor, number), actor, detail=True)


@login_required
def accept(number: str) -> ResponseReturnValue:
    actor, rt = current_actor(), runtime()
    with rt.db.transaction() as session:
        dispatch.answer_offer(session, rt.engine, actor, number, accept=True)
        return _after(session, actor, number)


@login_required
def decline(number: str) -> ResponseReturnValue:
    actor, rt = current_actor(), runtime()
    body = json_body({"reason": str}, required=("reason",))
    with rt.db.transaction() as session:
        dispatch.answer_offer(session, rt.engine, actor, number, accept=False, reason=body["reason"])
        session.flush()
        return {"number": number, "declined": True}


@login_required
def arrive(number: str) -> ResponseReturnValue:
    actor, rt = current_actor(), runtime()
    with rt.db.transaction() as session:
        dispatch.arrive(session, rt.engine, actor, number)
        return _after(session, actor, number)


@login_required
def done(number: str) -> ResponseReturnValue:
    actor, rt = current_actor(), runtime()
    body = json_body({"note": str, "photo": dict}, required=("note",))
    photo = None
    if body.get("photo") is not None:
        raw = body["photo"]
        try:
            data = base64.b64decode(str(raw.get("data", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError(_("photo.data must be base64"), field="photo") from exc
        photo = materials.Upload(dispatch.PHOTO_CODE, str(raw.get("filename") or "photo.jpg"), data)
    with rt.db.transaction() as session:
        store = materials.UploadStore.from_settings(rt.settings)
        dispatch.finish(session, rt.engine, store, actor, number, body["note"], photo)
        return _after(session, actor, number)


def service_json(service: Service) -> dict[str, Any]:
    return {
        "code": service.code, "name": service.name, "category": service.category.value,
        "price_fen": service.price_fen, "unit": service.unit.value, "duration_minutes": service.duration_minutes,
        "credit_eligible": service.credit_eligible, "active": service.active,
    }  # fmt: skip


def slot_json(slot: TimeSlot) -> dict[str, Any]:
    return {"id": slot.id, "service": slot.service.code, "starts_at": _iso(slot.starts_at),
            "ends_at": _iso(slot.ends_at), "capacity": slot.capacity, "booked": slot.booked}  # fmt: skip


@login_required
def my_services() -> ResponseReturnValue:
    actor = current_actor()
    with runtime().db.sessions() as session:
        return {
            "services": [service_json(s) for s in catalog.my_services(session, actor)],
            "slots": [slot_json(s) for s in catalog.my_slots(session, actor)],
        }


@login_required
def set_price(code: str) -> ResponseReturnValue:
    actor = current_actor()
    body = json_body({"price_fen": int}, required=("price_fen",))
    with runtime().db.transaction() as session:
        return service_json(catalog.set_price(session, actor, code, body["price_fen"]))


@login_required
def add_slots(code: str) -> ResponseReturnValue:
    actor = current_actor()
    body = json_body({"starts": list, "capacity": int}, required=("starts",))
    starts = []
    for value in body["starts"]:
        try:
            starts.append(datetime.fromisoformat(str(value)))
        except ValueError as exc:
            raise InputError(_("'{value}' is not an ISO 8601 date-time", value=value), field="starts") from exc
    with runtime().db.transaction() as session:
        added = catalog.add_slots(session, actor, code, starts, capacity=body.get("capacity", 1))
        return {"slots": [slot_json(s) for s in added]}, 201


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/o2o/orders", view_func=list_orders, methods=["GET"])
    bp.add_url_rule("/o2o/orders/<number>", view_func=get_one, methods=["GET"])
    bp.add_url_rule("/o2o/orders/<number>/accept", view_func=accept, methods=["POST"])
    bp.add_url_rule("/o2o/orders/<number>/decline", view_func=decline, methods=["POST"])
    bp.add_url_rule("/o2o/orders/<number>/arrive", view_func=arrive, methods=["POST"])
    bp.add_url_rule("/o2o/orders/<number>/done", view_func=done, methods=["POST"])
    bp.add_url_rule("/o2o/services", view_func=my_services, methods=["GET"])
    bp.add_url_rule("/o2o/services/<code>/price", view_func=set_price, methods=["POST"])
    bp.add_url_rule("/o2o/services/<code>/slots", view_func=add_slots, methods=["POST"])
