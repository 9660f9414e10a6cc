"""Residents' service requests (诉求) in the Open311 GeoReport v2 form, for the channels beyond the
portal: a hotline seat, a kiosk, a city app (http://wiki.open311.org/GeoReport_v2).

A *service* is an item of the catalogue of kind ``service_request`` (报修, 投诉, 咨询); its
definition's attributes come from the item's form (JSON Schema). A *request* is a case of such an
item: filing one submits the case through the same process as the portal (an SMS acknowledges it,
the community answers within its limit). Filing needs an API key of a registered channel; the
resident is named by the phone on record (or by ``attribute[id_number]`` with ``first_name`` and
``last_name``). Reading is public and shows no personal data: no name, phone or ID number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju import forms, idnumber
from huiju.db import utcnow
from huiju.errors import InputError, NotFoundError, PermissionDenied
from huiju.i18n import _, normalize
from huiju.models import FINAL, Case, Item, ItemKind, Open311Client, Resident, Role
from huiju.services import clock
from huiju.services.actors import Actor
from huiju.services.cases import submit_case
from workflows_bpmn.runner import Engine

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_LISTED = 1000
DEFAULT_DAYS = 90
_PHONE = re.compile(r"^1[3-9]\d{9}$")
#: JSON Schema types as Open311 attribute datatypes.
DATATYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "singlevaluelist"}


def _service_items(session: Session) -> list[Item]:
    return list(
        session.scalars(select(Item).where(Item.kind == ItemKind.SERVICE_REQUEST, Item.active.is_(True))
                        .order_by(Item.code))
    )  # fmt: skip


def _item(session: Session, code: str) -> Item:
    item = session.scalars(select(Item).where(Item.code == code, Item.kind == ItemKind.SERVICE_REQUEST)).one_or_none()
    if item is None or not item.active:
        raise NotFoundError(_("service_code {code} was not found", code=code))
    return item


def _summary(item: Item, locale: str) -> str:
    summary = item.summary or {}
    return str(summary.get("en") if normalize(locale) == "en" and summary.get("en") else summary.get("zh", ""))


def services(session: Session, locale: str) -> list[dict[str, Any]]:
    """GET services: the service list."""
    return [
        {"service_code": item.code, "service_name": item.name_in(locale), "description": _summary(item, locale),
         "metadata": bool(item.form_schema.get("properties")), "type": "realtime", "keywords": "",
         "group": forms.Words("居民诉求", "Service requests").localize(locale)}
        for item in _service_items(session)
    ]  # fmt: skip


def definition(session: Session, code: str, locale: str) -> dict[str, Any]:
    """GET services/{code}: the attributes a request of this service may carry."""
    item = _item(session, code)
    schema = item.form_schema
    required = set(schema.get("required", []))
    attributes = []
    for order, (name, prop) in enumerate(schema.get("properties", {}).items(), start=1):
        if name in ("description", "location", "contact_phone"):
            continue  # these are Open311's own fields (description, address_string, phone)
        values = [{"key": str(v), "name": forms.shown_value(prop, v, locale)} for v in prop.get("enum", [])]
        datatype = "singlevaluelist" if values else DATATYPES.get(str(prop.get("type")), "string")
        if prop.get("maxLength", 0) > 200:
            datatype = "text"
        attributes.append({
            "variable": True, "code": name, "datatype": datatype, "required": name in required,
            "datatype_description": "", "order": order, "description": forms.title(name, prop).localize(locale),
            "values": values,
        })  # fmt: skip
    return {"service_code": item.code, "attributes": attributes}


# -- channels and their keys ---------------------------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_client(session: Session, actor: Actor, name: str) -> tuple[Open311Client, str]:
    """Register a channel; its API key is shown once (only its digest is kept)."""
    if actor.role not in (Role.ADMINISTRATOR, Role.INTEGRATOR):
        raise PermissionDenied(_("only administrators and integrators register Open311 channels"))
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", name):
        raise InputError(_("a channel name has 2 to 64 letters, digits, '.', '-' or '_'"), field="name")
    if session.scalar(select(Open311Client.id).where(Open311Client.name == name)) is not None:
        raise InputError(_("channel '{name}' exists already", name=name), field="name")
    key = secrets.token_urlsafe(32)
    client = Open311Client(name=name, key_digest=_digest(key), key_hint=key[:6], active=True)
    session.add(client)
    session.flush()
    return client, key


def revoke_client(session: Session, actor: Actor, name: str) -> Open311Client:
    if actor.role not in (Role.ADMINISTRATOR, Role.INTEGRATOR):
        raise PermissionDenied(_("only administrators and integrators register Open311 channels"))
    client = session.scalars(select(Open311Client).where(Open311Client.name == name)).one_or_none()
    if client is None:
        raise NotFoundError(_("no channel '{name}'", name=name))
    client.active = False
    return client


def clients(session: Session) -> list[Open311Client]:
    return list(session.scalars(select(Open311Client).order_by(Open311Client.name)))


def client_for_key(session: Session, key: str | None) -> Open311Client:
    if not key:
        raise PermissionDenied(_("api_key is required to file a request"))
    digest = _digest(key)
    for client in session.scalars(select(Open311Client).where(Open311Client.active.is_(True))):
        if hmac.compare_digest(client.key_digest, digest):
            return client
    raise PermissionDenied(_("api_key is not valid"))


# -- requests --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filing:
    """What a channel posts (the GeoReport v2 fields Huiju reads)."""

    service_code: str
    description: str = ""
    lat: str = ""
    long: str = ""
    address_string: str = ""
    address_id: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    attributes: dict[str, str] | None = None


def _resident(session: Session, filing: Filing) -> Resident:
    attributes = filing.attributes or {}
    name = f"{filing.last_name.strip()}{filing.first_name.strip()}"  # a Chinese name: surname first
    if attributes.get("id_number"):
        number = idnumber.validate(attributes["id_number"])
        found = session.scalars(select(Resident).where(Resident.id_number == number)).one_or_none()
        if found is None or not name or found.name != name:
            raise InputError(_("no resident with this name and ID number is registered here"), field="id_number")
        return found
    phone = re.sub(r"[\s-]", "", filing.phone).removeprefix("+86")
    if not _PHONE.match(phone):
        raise InputError(_("phone must be the resident's mainland mobile number (11 digits)"), field="phone")
    matches = list(session.scalars(select(Resident).where(Resident.phone == phone).limit(2)))
    if len(matches) != 1:
        raise InputError(_("no single resident has this phone on record; give attribute[id_number] with "
                           "first_name and last_name"), field="phone")  # fmt: skip
    if name and matches[0].name != name:
        raise InputError(_("the name does not match the resident of this phone"), field="last_name")
    return matches[0]


def _location(filing: Filing) -> str:
    if filing.address_string.strip():
        return filing.address_string.strip()[:200]
    if filing.lat.strip() and filing.long.strip():
        try:
            lat, long = float(filing.lat), float(filing.long)
        except ValueError as exc:
            raise InputError(_("lat and long must be decimal degrees"), field="lat") from exc
        if not (-90 <= lat <= 90 and -180 <= long <= 180):
            raise InputError(_("lat and long must be decimal degrees"), field="lat")
        return f"{lat:.6f},{long:.6f}"
    if filing.address_id.strip():
        return filing.address_id.strip()[:200]
    raise InputError(_("a location is required: lat and long, address_string or address_id"), field="address_string")


def file_request(session: Session, engine: Engine, client: Open311Client, filing: Filing) -> Case:
    """POST requests: a case of the service's item, submitted for the resident named."""
    item = _item(session, filing.service_code)
    resident = _resident(session, filing)
    form: dict[str, Any] = {"description": filing.description.strip(), "location": _location(filing)}
    known = set(item.form_schema.get("properties", {}))
    for code, value in (filing.attributes or {}).items():
        if code == "id_number":
            continue
        if code not in known or code in form:
            raise InputError(_("attribute[{code}] is not an attribute of service {service}", code=code,
                               service=item.code), field=f"attribute[{code}]")  # fmt: skip
        form[code] = value
    phone = re.sub(r"[\s-]", "", filing.phone).removeprefix("+86")
    if phone and "contact_phone" in known:
        form["contact_phone"] = phone
    # A channel files as the platform (the case records which one), for the resident it names.
    actor = Actor(f"open311:{client.name}"[:64], Role.ADMINISTRATOR)
    return submit_case(session, engine, actor, item.code, resident.id_number, form)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def request_json(case: Case, locale: str) -> dict[str, Any]:
    """One request as GeoReport v2 shows it: no name, phone or ID number of the resident."""
    closed = case.status in FINAL
    notes = ""
    for event in reversed(case.events):
        form = (event.data or {}).get("form")
        if event.kind == "task_completed" and isinstance(form, dict) and form.get("answer"):
            notes = str(form["answer"])
            break
    location = str(case.form_data.get("location") or "")
    lat = long = None
    match = re.fullmatch(r"(-?\d+\.\d+),(-?\d+\.\d+)", location)
    if match:
        lat, long = float(match.group(1)), float(match.group(2))
    return {
        "service_request_id": case.number, "status": "closed" if closed else "open", "status_notes": notes,
        "service_name": case.item.name_in(locale), "service_code": case.item.code,
        "description": str(case.form_data.get("description") or ""), "agency_responsible": case.community.name,
        "service_notice": "", "requested_datetime": _iso(case.submitted_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(clock.due_at(case.committed_due)) if case.committed_due and not closed else None,
        "address": "" if match else location, "address_id": "", "zipcode": "", "lat": lat, "long": long,
        "media_url": "",
    }  # fmt: skip


def list_requests(
    session: Session, *, ids: list[str] | None = None, service_code: str | None = None,
    start: datetime | None = None, end: datetime | None = None, status: str | None = None,
) -> list[Case]:  # fmt: skip
    """GET requests: by ids, or by service, time and status (the last 90 days by default)."""
    stmt = select(Case).join(Item, Item.id == Case.item_id).where(Item.kind == ItemKind.SERVICE_REQUEST)
    if ids:
        stmt = stmt.where(Case.number.in_(ids[:MAX_LISTED]))
    else:
        end = end or utcnow()
        start = start or end - timedelta(days=DEFAULT_DAYS)
        stmt = stmt.where(Case.submitted_at >= start, Case.submitted_at <= end)
    if service_code:
        stmt = stmt.where(Item.code == service_code)
    if status:
        wanted = {s.strip() for s in status.split(",")}
        if not wanted <= {"open", "closed"}:
            raise InputError(_("status must be open or closed"), field="status")
        if wanted == {"open"}:
            stmt = stmt.where(Case.status.not_in(list(FINAL)))
        elif wanted == {"closed"}:
            stmt = stmt.where(Case.status.in_(list(FINAL)))
    return list(session.scalars(stmt.order_by(Case.submitted_at.desc()).limit(MAX_LISTED)))


def get_request(session: Session, request_id: str) -> Case:
    found = list_requests(session, ids=[request_id])
    if not found:
        raise NotFoundError(_("service_request_id {id} was not found", id=request_id))
    return found[0]
