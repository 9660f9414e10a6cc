"""The item catalogue kept by administrators (事项目录管理): add and edit items, publish, withdraw.

An item is a draft (草稿) until published (已发布: residents apply for it), and withdrawn (已停办)
when no new application is taken; cases already submitted go on. Its form — the JSON Schema the
portal builds the application form from, and the required materials — is versioned
(:mod:`huiju.services.catalogue_versions`): changing a published item's form makes a new version,
and a case keeps the one it was submitted with. Every change is audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import jsonschema
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huiju import durations
from huiju.db import utcnow
from huiju.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Case, Item, ItemKind, ItemState, ResponsibleLevel, Role, Theme, TimeUnit
from huiju.services import audit
from huiju.services.actors import Actor
from huiju.services.catalogue_versions import add_form_version, current_form_version
from workflows_bpmn.models import DefinitionKind, ProcessDefinition

_CODE = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
_MATERIAL_CODE = re.compile(r"[a-z0-9_]{1,64}")
#: The longest time limit an item may state, in its unit.
MAX_LIMIT = 365
#: JSON Schema types the portal builds a field for (see portal.schema_form).
FIELD_TYPES = {"string", "integer", "boolean"}


#: The catalogue's choices in words: the item pages offer them, the audit trail shows them.
KINDS: dict[str, Message] = {
    ItemKind.APPROVAL.value: _("Administrative approval (行政审批)"),
    ItemKind.PUBLIC_SERVICE.value: _("Public service (公共服务)"),
    ItemKind.CONVENIENCE.value: _("Convenience service (便民服务)"),
    ItemKind.O2O.value: _("Community service order (社区服务)"),
    ItemKind.SERVICE_REQUEST.value: _("Resident request (居民诉求)"),
}
LEVELS: dict[str, Message] = {
    ResponsibleLevel.COMMUNITY.value: _("Community"),
    ResponsibleLevel.STREET.value: _("Street office"),
    ResponsibleLevel.DISTRICT.value: _("District"),
}
UNITS: dict[str, Message] = {
    TimeUnit.WORKING_DAYS.value: _("working days"),
    TimeUnit.CALENDAR_DAYS.value: _("calendar days"),
}
THEMES: dict[str, Message] = {
    Theme.ELDERLY_CARE.value: _("Elderly care"),
    Theme.SOCIAL_ASSISTANCE.value: _("Social assistance"),
    Theme.CERTIFICATES.value: _("Proofs and certificates"),
    Theme.EMPLOYMENT.value: _("Employment"),
    Theme.FAMILY.value: _("Family"),
    Theme.SERVICE_REQUESTS.value: _("Requests and complaints"),
    Theme.OTHER.value: _("Other services"),
}
#: (Not the bare "published" and "withdrawn": the catalogue gives those a settlement's and a case's sense.)
STATES: dict[str, Message] = {
    ItemState.DRAFT.value: _("draft"),
    ItemState.PUBLISHED.value: _("offered to residents"),
    ItemState.WITHDRAWN.value: _("no longer offered"),
}


def require_administrator(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators keep the item catalogue"))


@dataclass
class ItemFields:
    """What an administrator gives for an item (the edit form), checked by :func:`check_fields`."""

    code: str
    name: str
    name_en: str
    kind: str
    responsible_level: str
    statutory_limit: int
    committed_limit: int
    limit_unit: str
    process_id: str
    form_schema: dict[str, Any]
    required_materials: list[dict[str, Any]] = field(default_factory=list)
    theme: str = Theme.OTHER.value
    supplement_wait: str = "P30D"

    @classmethod
    def of(cls, item: Item) -> ItemFields:
        return cls(
            code=item.code, name=item.name, name_en=item.name_en, kind=item.kind.value,
            responsible_level=item.responsible_level.value, statutory_limit=item.statutory_limit,
            committed_limit=item.committed_limit, limit_unit=item.limit_unit.value, process_id=item.process_id,
            form_schema=item.form_schema, required_materials=list(item.required_materials), theme=item.theme.value,
            supplement_wait=item.supplement_wait,
        )  # fmt: skip


#: The item form's fields in the words of its labels, for the messages that name them.
FIELD_WORDS: dict[str, Message] = {
    "kind": _("Kind"),
    "responsible_level": _("Responsible level"),
    "theme": _("Theme (what residents browse by)"),
    "committed_limit": _("Committed limit (承诺)"),
    "statutory_limit": _("Statutory limit (法定)"),
    "limit_unit": _("Unit"),
    "supplement_wait_days": _("Days a supplement (补正) may wait"),
}


def _supplement_wait(form: Mapping[str, str]) -> str:
    """The form's days as a duration; without days, the duration the form carried along unchanged
    (one the days field cannot show), else 30 days."""
    if (form.get("supplement_wait_days") or "").strip():
        days = _number(form, "supplement_wait_days")
        if not 1 <= days <= MAX_LIMIT:
            raise InputError(_("{field}: from 1 to {limit} days", field=FIELD_WORDS["supplement_wait_days"],
                               limit=MAX_LIMIT), field="supplement_wait_days")  # fmt: skip
        return f"P{days}D"
    return form.get("supplement_wait") or "P30D"


def _number(form: Mapping[str, str], name: str) -> int:
    text = (form.get(name) or "").strip()
    if not text.isdigit() or len(text) > 4:
        raise InputError(_("{field}: a whole number of days", field=FIELD_WORDS.get(name, name)), field=name)
    return int(text)


def parse_schema_text(text: str) -> dict[str, Any]:
    """The form's JSON Schema as typed in the edit form."""
    try:
        value = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise InputError(_("the form's schema is not JSON: line {line}, column {column}: {problem}", line=exc.lineno,
                           column=exc.colno, problem=exc.msg), field="form_schema") from exc  # fmt: skip
    if not isinstance(value, dict):
        raise InputError(_("the form's schema must be a JSON object"), field="form_schema")
    return value


def fields_from_form(form: Mapping[str, str], materials: list[dict[str, Any]]) -> ItemFields:
    """The edit form's strings as item fields (checked again by :func:`check_fields`)."""
    return ItemFields(
        code=form.get("code", ""), name=form.get("name", ""), name_en=form.get("name_en", ""),
        kind=form.get("kind", ""), responsible_level=form.get("responsible_level", ""),
        statutory_limit=_number(form, "statutory_limit"), committed_limit=_number(form, "committed_limit"),
        limit_unit=form.get("limit_unit", ""), process_id=form.get("process_id", ""),
        form_schema=parse_schema_text(form.get("form_schema", "")), required_materials=materials,
        theme=form.get("theme") or Theme.OTHER.value, supplement_wait=_supplement_wait(form),
    )  # fmt: skip


def _enum(kind: type[Any], value: str, name: str) -> Any:
    try:
        return kind(value)
    except ValueError as exc:
        raise InputError(
            _("{field}: '{value}' is not one of the choices", field=FIELD_WORDS.get(name, name), value=value),
            field=name,
        ) from exc


def check_schema(schema: Any) -> dict[str, Any]:
    """A form schema the portal can build a form from and the services can check data with."""
    if not isinstance(schema, dict):
        raise InputError(_("the form's schema must be a JSON object"), field="form_schema")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(schema)"
        raise InputError(_("the form's schema is not valid JSON Schema at {where}: {problem}", where=where,
                           problem=exc.message), field="form_schema") from exc  # fmt: skip
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise InputError(_('the form\'s schema must be "type": "object" with "properties"'), field="form_schema")
    for name, prop in schema["properties"].items():
        if not isinstance(prop, dict):
            raise InputError(_("form field {name}: its schema must be an object", name=name), field="form_schema")
        kind = prop.get("type")
        if "enum" in prop:
            _check_choices(name, prop["enum"])
        elif not isinstance(kind, str) or kind not in FIELD_TYPES:  # a list of types is not one the portal shows
            raise InputError(
                _("form field {name}: the portal shows fields of type {types}, or a list of choices (enum)",
                  name=name, types=", ".join(sorted(FIELD_TYPES))),
                field="form_schema",
            )  # fmt: skip
        if not str(prop.get("title") or "").strip():
            raise InputError(_("form field {name}: give its title (the words residents read)", name=name),
                             field="form_schema")  # fmt: skip
    missing = [n for n in schema.get("required", []) if n not in schema["properties"]]
    if missing:
        raise InputError(_("the form requires {name}, which it does not define", name=missing[0]),
                         field="form_schema")  # fmt: skip
    return schema


def _check_choices(name: str, choices: Any) -> None:
    """A list of choices (enum) the portal can offer: words, at least one, each once."""
    if (
        not isinstance(choices, list)
        or not choices
        or not all(isinstance(c, str) and c.strip() for c in choices)
        or len(set(choices)) != len(choices)
    ):
        raise InputError(_("form field {name}: its choices (enum) must be a list of different words, at least one",
                           name=name), field="form_schema")  # fmt: skip


def _materials(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise InputError(_("required materials must be a list"), field="required_materials")
    materials: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        code = str((row or {}).get("code", "")).strip()
        name = str((row or {}).get("name", "")).strip()
        if not code and not name:
            continue  # an empty line of the form
        if not _MATERIAL_CODE.fullmatch(code):
            raise InputError(_("material '{code}': a code of lower-case letters, digits and _", code=code or "-"),
                             field="required_materials")  # fmt: skip
        if code in seen:
            raise InputError(_("material '{code}' is listed twice", code=code), field="required_materials")
        if not name:
            raise InputError(_("material '{code}': give its name", code=code), field="required_materials")
        seen.add(code)
        materials.append({"code": code, "name": name[:200],
                          "name_en": str(row.get("name_en") or name).strip()[:200],
                          "required": bool(row.get("required"))})  # fmt: skip
    return materials


def check_fields(session: Session, fields: ItemFields) -> ItemFields:
    """Every field checked, with a message that names it; values normalised."""
    fields.code = fields.code.strip()
    if not _CODE.fullmatch(fields.code):
        raise InputError(_("the code: 2 to 63 lower-case letters, digits and '-'"), field="code")
    fields.name, fields.name_en = fields.name.strip(), fields.name_en.strip()
    if not fields.name or not fields.name_en:
        raise InputError(_("give the item's name in Chinese and in English"), field="name")
    if len(fields.name) > 200 or len(fields.name_en) > 200:
        raise InputError(_("a name of at most 200 characters"), field="name")
    _enum(ItemKind, fields.kind, "kind")
    _enum(ResponsibleLevel, fields.responsible_level, "responsible_level")
    _enum(TimeUnit, fields.limit_unit, "limit_unit")
    _enum(Theme, fields.theme, "theme")
    if not 1 <= fields.committed_limit <= fields.statutory_limit <= MAX_LIMIT:
        raise InputError(
            _("time limits: at least 1, the committed limit (承诺) no longer than the statutory one (法定), at most "
              "{limit}", limit=MAX_LIMIT),
            field="committed_limit",
        )  # fmt: skip
    fields.supplement_wait = fields.supplement_wait.strip().upper()
    if durations.parts(fields.supplement_wait) is None:
        raise InputError(_("the supplement wait: an ISO 8601 duration such as P30D"), field="supplement_wait")
    fields.process_id = fields.process_id.strip()
    if not fields.process_id:
        raise InputError(_("choose the process that runs the item"), field="process_id")
    fields.form_schema = check_schema(fields.form_schema)
    fields.required_materials = _materials(fields.required_materials)
    return fields


def _process_deployed(session: Session, process_id: str) -> bool:
    return bool(
        session.scalar(
            select(func.count()).where(
                ProcessDefinition.process_id == process_id, ProcessDefinition.kind == DefinitionKind.BPMN
            )  # fmt: skip
        )
    )


def list_items(session: Session, actor: Actor) -> list[Item]:
    require_administrator(actor)
    return list(session.scalars(select(Item).order_by(Item.state, Item.code)))


def get_item(session: Session, actor: Actor, code: str) -> Item:
    require_administrator(actor)
    item = session.scalars(select(Item).where(Item.code == code)).one_or_none()
    if item is None:
        raise NotFoundError(_("unknown item '{code}'", code=code))
    return item


def cases_by_form_version(session: Session, item: Item) -> dict[int, int]:
    """How many cases were submitted with each version of the item's form."""
    from huiju.models import ItemFormVersion

    rows = session.execute(
        select(ItemFormVersion.version, func.count(Case.id))
        .join(Case, Case.form_version_id == ItemFormVersion.id)
        .where(ItemFormVersion.item_id == item.id)
        .group_by(ItemFormVersion.version)
    )
    return {int(version): int(count) for version, count in rows}


def _snapshot(item: Item) -> dict[str, Any]:
    return {**asdict(ItemFields.of(item)), "state": item.state.value, "form_version": item.form_version}


def create_item(session: Session, actor: Actor, fields: ItemFields) -> Item:
    """A new item, a draft, with version 1 of its form."""
    require_administrator(actor)
    fields = check_fields(session, fields)
    if session.scalar(select(func.count()).where(Item.code == fields.code)):
        raise ConflictError(_("an item with the code '{code}' exists already", code=fields.code))
    item = Item(
        code=fields.code, name=fields.name, name_en=fields.name_en, kind=ItemKind(fields.kind),
        responsible_level=ResponsibleLevel(fields.responsible_level), statutory_limit=fields.statutory_limit,
        committed_limit=fields.committed_limit, limit_unit=TimeUnit(fields.limit_unit),
        required_materials=fields.required_materials, form_schema=fields.form_schema, process_id=fields.process_id,
        supplement_wait=fields.supplement_wait, theme=Theme(fields.theme), summary={}, eligibility=[], steps=[],
        active=False, state=ItemState.DRAFT, form_version=1, updated_at=utcnow(), updated_by=actor.username,
    )  # fmt: skip
    session.add(item)
    session.flush()
    add_form_version(session, item, fields.form_schema, fields.required_materials, actor.username, version=1)
    audit.record(session, actor, "item.create", target_kind="item", target=item.code, after=_snapshot(item))
    return item


def update_item(session: Session, actor: Actor, code: str, fields: ItemFields) -> Item:
    """Change an item; a change of a published (or withdrawn) item's form makes a new form version."""
    item = get_item(session, actor, code)
    fields = check_fields(session, fields)
    before = _snapshot(item)
    if fields.code != item.code:
        if item.state is not ItemState.DRAFT:
            raise ConflictError(_("the code of a published item cannot change: cases and the API name it"))
        if session.scalar(select(func.count()).where(Item.code == fields.code)):
            raise ConflictError(_("an item with the code '{code}' exists already", code=fields.code))
    if item.state is ItemState.PUBLISHED and not _process_deployed(session, fields.process_id):
        raise InputError(_("process '{process_id}' is not deployed", process_id=fields.process_id), field="process_id")
    form_changed = (fields.form_schema, fields.required_materials) != (item.form_schema, item.required_materials)
    item.code, item.name, item.name_en = fields.code, fields.name, fields.name_en
    item.kind, item.responsible_level = ItemKind(fields.kind), ResponsibleLevel(fields.responsible_level)
    item.statutory_limit, item.committed_limit = fields.statutory_limit, fields.committed_limit
    item.limit_unit, item.theme = TimeUnit(fields.limit_unit), Theme(fields.theme)
    item.process_id, item.supplement_wait = fields.process_id, fields.supplement_wait
    item.updated_at, item.updated_by = utcnow(), actor.username
    if form_changed:
        if item.state is ItemState.DRAFT:  # nobody applied with it: the draft's form is changed in place
            current = current_form_version(session, item)
            current.form_schema, current.required_materials = fields.form_schema, fields.required_materials
            item.form_schema, item.required_materials = fields.form_schema, fields.required_materials
        else:
            current_form_version(session, item)  # the version cases were submitted with is kept
            add_form_version(session, item, fields.form_schema, fields.required_materials, actor.username)
    session.flush()
    audit.record(session, actor, "item.update", target_kind="item", target=item.code, before=before,
                       after=_snapshot(item))  # fmt: skip
    return item


def publish_item(session: Session, actor: Actor, code: str) -> Item:
    """Offer the item to residents: its process must be deployed."""
    item = get_item(session, actor, code)
    if item.state is ItemState.PUBLISHED:
        raise ConflictError(_("item '{code}' is published already", code=code))
    if not _process_deployed(session, item.process_id):
        raise ConflictError(_("item '{code}' cannot be published: process '{process_id}' is not deployed",
                              code=code, process_id=item.process_id))  # fmt: skip
    check_schema(item.form_schema)
    before = _snapshot(item)
    current_form_version(session, item)
    item.state, item.active = ItemState.PUBLISHED, True
    item.updated_at, item.updated_by = utcnow(), actor.username
    session.flush()
    audit.record(session, actor, "item.publish", target_kind="item", target=item.code, before=before,
                       after=_snapshot(item))  # fmt: skip
    return item


def withdraw_item(session: Session, actor: Actor, code: str, reason: str) -> Item:
    """No new applications; the cases already submitted go on."""
    item = get_item(session, actor, code)
    if item.state is not ItemState.PUBLISHED:
        raise ConflictError(_("only a published item can be withdrawn"))
    reason = (reason or "").strip()
    if not reason:
        raise InputError(_("give a reason: it is kept in the audit trail"), field="reason")
    before = _snapshot(item)
    item.state, item.active = ItemState.WITHDRAWN, False
    item.updated_at, item.updated_by = utcnow(), actor.username
    session.flush()
    audit.record(session, actor, "item.withdraw", target_kind="item", target=item.code, before=before,
                       after=_snapshot(item), detail=reason[:500])  # fmt: skip
    return item
