"""The audit trail in words (审计日志): each entry's before and after as short "field: value" lists.

An entry keeps what its action recorded — codes and numbers, as JSON — and that is what its hash
covers, what the CSV export gives and what ``huiju audit verify`` recomputes: nothing here changes it.
This module is for the page a person reads: each key by its name (:data:`FIELDS`, one table; a few
keys mean something else under one action, :data:`FIELDS_OF`), each coded value by the words the
rest of Huiju already gives it (:mod:`huiju.labels`, the catalogue's, the calendar's, the
certificates' and the offices' tables), an office code by the office's name, an item code by the
item's name, a process by its name and version, a step by its name, an account by its holder's
name; yes or no for a flag; a duration in days; a time in Beijing time; a form, a list of
materials, files or parameters summed up (how many, and their names); nothing as a dash. Where an
action records a whole snapshot on both sides (an account, an item), the fields that stayed the same
are left out of both and counted ("unchanged: 14 other fields"): the cells say what changed.

A key recorded by no action known here (an entry written by another version of Huiju) is shown as
"other detail" with its value in the same plain words (never the key itself), and logged once.
The names of the page's offices, items, processes, steps and accounts are read in one query each.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju import durations
from huiju.calendar import CHINA
from huiju.i18n import Message, _, localize, normalize
from huiju.idnumber import mask
from huiju.labels import LabelKind, known, label
from huiju.models import AuditEntry, Case, CaseEvent, Item, Org, User
from huiju.services import calendar_admin, catalogue, certificates, offices
from huiju.services.audit import action_label
from workflows_bpmn.models import HumanTask, ProcessDefinition
from workflows_bpmn.step_names import StepNames, step_names

log = logging.getLogger(__name__)

DASH = "—"


@dataclass(frozen=True)
class Pair:
    """One line of a cell: a field's name and its value, in words."""

    field: str
    value: str
    #: The value is a name or an identifier (an account, an address, a file, a fingerprint), shown as
    #: it is (``translate="no"`` on the page), not words.
    name: bool = False


@dataclass(frozen=True)
class EntryWords:
    """What the page shows of one entry beyond who, what and when."""

    before: list[Pair]
    after: list[Pair]
    #: The detail as pairs where it is a record (an export's filters); otherwise None and the detail
    #: is shown as it was written (a reason, an error).
    detail: list[Pair] | None
    target: Pair
    definition: str


# --- the values -----------------------------------------------------------------------------------

Shown = tuple[str, bool]  # the words, and whether they are a name shown as it is
Value = Callable[[Any, "_Context"], Shown]


@dataclass
class _Wanted:
    offices: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    processes: set[str] = field(default_factory=set)
    definitions: set[int] = field(default_factory=set)
    cases: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)


@dataclass
class _Known:
    offices: dict[str, str] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    processes: dict[str, ProcessDefinition] = field(default_factory=dict)  # the latest version of each
    definitions: dict[int, ProcessDefinition] = field(default_factory=dict)
    steps: dict[tuple[str, str], str] = field(default_factory=dict)  # (case number, step id) -> its name
    people: dict[str, User] = field(default_factory=dict)
    names: StepNames = field(default_factory=StepNames)  # steps and processes in English


class _Context:
    """The locale and what the page's entries name. A first pass over the entries only notes what is
    to be looked up (:attr:`known` is None); the second words them."""

    def __init__(self, locale: str | None) -> None:
        self.locale = normalize(locale)
        self.wanted = _Wanted()
        self.known: _Known | None = None
        self.case_number: str | None = None

    def words(self, message: Message) -> str:
        return localize(message, self.locale)

    def _find(self, kind: str, key: Any) -> Any:
        """What the page's entries name: on the first pass, note that ``key`` of ``kind`` is wanted
        (None); on the second, what was found of it (None if nothing)."""
        if self.known is None:
            getattr(self.wanted, kind).add(key)
            return None
        return getattr(self.known, kind).get(key)

    def office(self, code: str) -> Shown:
        return self._find("offices", code) or code, True

    def item(self, code: str) -> Shown:
        found = self._find("items", code)
        if found is None:
            return code, True
        return found.name_in(self.locale), True

    def process(self, process_id: str) -> Shown:
        found = self._find("processes", process_id)
        if found is None or self.known is None:
            return process_id, True
        return self.known.names.of(found.name, self.locale) or process_id, True

    def definition(self, definition_id: int) -> Shown:
        found = self._find("definitions", definition_id)
        if found is None:
            return self.words(_("process version no. {id}", id=definition_id)), False
        name = self.known.names.of(found.name, self.locale) if self.known is not None else found.name
        return self.version(name or found.process_id, found.version), False

    def version(self, name: str, version: int) -> str:
        return self.words(_("{name}, version {version}", name=name, version=version))

    def step(self, step: str) -> Shown:
        if self.known is None:
            if self.case_number:
                self.wanted.cases.add(self.case_number)
            return step, True
        name = self.known.steps.get((self.case_number or "", step))
        return (self.known.names.of(name, self.locale), True) if name else (step, True)

    def person(self, username: str) -> Shown:
        user = self._find("people", username)
        if user is None:
            return username, True
        return (
            f"{user.display_name} ({username})" if self.locale == "en" else f"{user.display_name}（{username}）"
        ), True


def _text(value: Any, ctx: _Context) -> Shown:
    return str(value), False


def _name(value: Any, ctx: _Context) -> Shown:
    return str(value), True


def _yes_no(value: Any, ctx: _Context) -> Shown:
    if isinstance(value, bool):
        return ctx.words(_("yes") if value else _("no")), False
    return _plain(value, ctx)


def _number(value: Any, ctx: _Context) -> Shown:
    return (f"{value:g}" if isinstance(value, float) else str(value)), False


def _seconds(value: Any, ctx: _Context) -> Shown:
    return ctx.words(_("{n} seconds", n=_number(value, ctx)[0])), False


def _days(value: Any, ctx: _Context) -> Shown:
    return ctx.words(_("{n} days", n=_number(value, ctx)[0])), False


def _labelled(kind: LabelKind) -> Value:
    def words(value: Any, ctx: _Context) -> Shown:
        code = str(value)
        return (label(kind, code, ctx.locale), False) if known(kind, code) else (code, True)

    return words


def _table(table: Mapping[str, Message]) -> Value:
    def words(value: Any, ctx: _Context) -> Shown:
        message = table.get(str(value))
        return (ctx.words(message), False) if message is not None else (str(value), True)

    return words


def _office(value: Any, ctx: _Context) -> Shown:
    return ctx.office(str(value))


def _item(value: Any, ctx: _Context) -> Shown:
    return ctx.item(str(value))


def _process(value: Any, ctx: _Context) -> Shown:
    return ctx.process(str(value))


def _definition(value: Any, ctx: _Context) -> Shown:
    return ctx.definition(value) if isinstance(value, int) else _plain(value, ctx)


def _step(value: Any, ctx: _Context) -> Shown:
    return ctx.step(str(value))


def _person(value: Any, ctx: _Context) -> Shown:
    return ctx.person(str(value))


def _fingerprint(value: Any, ctx: _Context) -> Shown:
    text = str(value)
    return (f"{text[:12]}…" if len(text) > 12 else text), True


def _moment(value: Any, ctx: _Context) -> Shown:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value), True
    if moment.tzinfo is None:
        return str(value), True
    return ctx.words(_("{time} (Beijing time)", time=moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"))), False


_DURATION_UNITS = (  # one of a unit, and several ("1 hour", not "1 hours")
    lambda n: _("{n} year", n=n) if n == 1 else _("{n} years", n=n),
    lambda n: _("{n} month", n=n) if n == 1 else _("{n} months", n=n),
    lambda n: _("{n} week", n=n) if n == 1 else _("{n} weeks", n=n),
    lambda n: _("{n} day", n=n) if n == 1 else _("{n} days", n=n),
    lambda n: _("{n} hour", n=n) if n == 1 else _("{n} hours", n=n),
    lambda n: _("{n} minute", n=n) if n == 1 else _("{n} minutes", n=n),
    lambda n: _("{n} second", n=n) if n == 1 else _("{n} seconds", n=n),
)


def duration_words(duration: str, locale: str | None = None) -> str | None:
    """``P30D`` in words (30 天, 30 days); None when it is not an ISO 8601 duration."""
    found = durations.parts(duration)
    if found is None:
        return None
    return " ".join(localize(unit(n), locale) for unit, n in zip(_DURATION_UNITS, found, strict=True) if n)


def _duration(value: Any, ctx: _Context) -> Shown:
    shown = duration_words(str(value), ctx.locale)
    return (shown, False) if shown is not None else (str(value), True)


def _listed(count: int, names: Iterable[str], ctx: _Context, *, limit: int = 6) -> str:
    if count == 0:
        return DASH
    shown = [n for n in names if n]
    if len(shown) > limit:
        shown = [*shown[:limit], "…"]
    if not shown:
        return ctx.words(_("{count} in all", count=count))
    separator = ", " if ctx.locale == "en" else "、"
    return ctx.words(_("{count} in all: {names}", count=count, names=separator.join(shown)))


def _in_locale(entry: Mapping[str, Any], ctx: _Context, chinese: str, english: str) -> str:
    text = entry.get(english) if ctx.locale == "en" else None
    return str(text or entry.get(chinese) or "")


def _form(value: Any, ctx: _Context) -> Shown:
    """An application form (JSON Schema): how many fields, and their titles."""
    properties = value.get("properties") if isinstance(value, Mapping) else None
    if not isinstance(properties, Mapping):
        return _plain(value, ctx)
    titles = [_in_locale(p, ctx, "title", "x-title-en") if isinstance(p, Mapping) else "" for p in properties.values()]
    return _listed(len(properties), titles, ctx), False


def _materials(value: Any, ctx: _Context) -> Shown:
    if not isinstance(value, list):
        return _plain(value, ctx)
    names = [_in_locale(m, ctx, "name", "name_en") if isinstance(m, Mapping) else "" for m in value]
    return _listed(len(value), names, ctx), False


def _names(value: Any, ctx: _Context) -> Shown:
    """A list of file or operation names."""
    if not isinstance(value, list):
        return _plain(value, ctx)
    return _listed(len(value), [str(v) for v in value], ctx), False


def _parameters(value: Any, ctx: _Context) -> Shown:
    if not isinstance(value, list):
        return _plain(value, ctx)
    names = [str(p.get("name") or "") if isinstance(p, Mapping) else str(p) for p in value]
    return _listed(len(value), names, ctx), False


def _references(value: Any, ctx: _Context) -> Shown:
    """What a deployed version calls: each process or decision by its name and version."""
    if not isinstance(value, list):
        return _plain(value, ctx)
    names = []
    for reference in value:
        if isinstance(reference, Mapping) and isinstance(reference.get("definition_id"), int):
            names.append(ctx.definition(reference["definition_id"])[0])
    return _listed(len(value), names, ctx), False


def _probe(value: Any, ctx: _Context) -> Shown:
    if isinstance(value, Mapping):
        with_values = _("yes, with {count} parameters", count=len(value)) if value else _("yes")
        return ctx.words(with_values), False
    return _plain(value, ctx)


def _plain(value: Any, ctx: _Context) -> Shown:
    """Any value, in the plainest words: what is shown of a key not known in advance."""
    if isinstance(value, bool):
        return _yes_no(value, ctx)
    if isinstance(value, int | float):
        return _number(value, ctx)
    if isinstance(value, list | dict):
        return ctx.words(_("one entry") if len(value) == 1 else _("{count} entries", count=len(value))), False
    return str(value), True


# --- the fields -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    words: Message
    value: Value = _plain


#: Every key an action records, by its name in words, and how its value is worded.
FIELDS: dict[str, Field] = {
    # cases, their processes and tasks (huiju.services.cases, running, tasks; audit.record_task)
    "item": Field(_("Item"), _item),
    "case_status": Field(_("Case status"), _labelled("status")),
    "status": Field(_("Case status"), _labelled("status")),
    "process_status": Field(_("Process status"), _labelled("instance")),
    "definition_id": Field(_("Process version"), _definition),
    "step": Field(_("Step"), _step),
    "decision": Field(_("Decision"), _labelled("decision")),
    "assignee": Field(_("Held by"), _person),
    "to": Field(_("Transferred to"), _person),
    "reason": Field(_("Reason"), _text),
    # accounts (huiju.services.users, accounts)
    "display_name": Field(_("Display name"), _text),
    "role": Field(_("Role"), _labelled("role")),
    "office": Field(_("Office"), _office),
    "active": Field(_("Account in use"), _yes_no),
    "released_tasks": Field(_("Tasks given back to the queue"), _number),
    "must_change_password": Field(_("Must choose a new password at the next sign-in"), _yes_no),
    # names: of an office, a calendar day, an item, a system
    "name": Field(_("Name"), _text),
    "title": Field(_("Name"), _text),
    "name_en": Field(_("Name in English"), _text),
    "code": Field(_("Code"), _name),
    # offices and the calendar (huiju.services.offices, calendar_admin)
    "level": Field(_("Level"), _table(offices.LEVELS)),
    "parent": Field(_("Belongs to"), _office),
    "kind": Field(_("Kind"), _table(catalogue.KINDS)),
    "days": Field(_("Days entered"), _number),
    # the item catalogue (huiju.services.catalogue)
    "theme": Field(_("Theme"), _table(catalogue.THEMES)),
    "responsible_level": Field(_("Responsible level"), _table(catalogue.LEVELS)),
    "committed_limit": Field(_("Committed limit"), _number),
    "statutory_limit": Field(_("Statutory limit"), _number),
    "limit_unit": Field(_("Time limits counted in"), _table(catalogue.UNITS)),
    "supplement_wait": Field(_("How long a supplement may wait"), _duration),
    "process_id": Field(_("Process"), _process),
    "form_schema": Field(_("Application form fields"), _form),
    "required_materials": Field(_("Required materials"), _materials),
    "state": Field(_("State in the catalogue"), _table(catalogue.STATES)),
    "form_version": Field(_("Form version"), _number),
    # adapters (adapters.config.EDITABLE, huiju.services.integration)
    "endpoint": Field(_("Endpoint"), _name),
    "enabled": Field(_("Enabled"), _yes_no),
    "connect_timeout": Field(_("Connect timeout"), _seconds),
    "operation_timeout": Field(_("Call timeout"), _seconds),
    "max_attempts": Field(_("Attempts"), _number),
    "backoff_seconds": Field(_("First wait between attempts"), _seconds),
    "partner": Field(_("Its replies are signed by (member)"), _name),
    "client_certificate": Field(_("Client certificate (member)"), _name),
    "ok": Field(_("The connection works"), _yes_no),
    # the roster (huiju.services.roster)
    "file": Field(_("File"), _name),
    "dry_run": Field(_("Trial run: nothing written"), _yes_no),
    "rows": Field(_("Rows read"), _number),
    "added": Field(_("Added"), _number),
    "updated": Field(_("Updated"), _number),
    "unchanged": Field(_("Unchanged"), _number),
    "refused": Field(_("Rows refused"), _number),
    "sha256": Field(_("File fingerprint (SHA-256)"), _fingerprint),
    # processes (huiju.services.processes, huiju.cli.cases)
    "version": Field(_("Version"), _number),
    "files": Field(_("Files"), _names),
    "references": Field(_("Processes and decisions it calls"), _references),
    "content_hash": Field(_("Content fingerprint"), _fingerprint),
    "hash": Field(_("Content fingerprint"), _fingerprint),
    # systems added by an integrator (huiju.services.systems)
    "operations": Field(_("Operations in the WSDL"), _names),
    "wsdl_sha256": Field(_("WSDL fingerprint"), _fingerprint),
    "soap_operation": Field(_("SOAP operation"), _name),
    "parameters": Field(_("Parameters"), _parameters),
    "probe": Field(_("Sent to test the connection"), _probe),
    # certificates (huiju.services.certificates, huiju.cli.exchange)
    "member": Field(_("Member"), _name),
    "subject": Field(_("Subject"), _name),
    "not_after": Field(_("Valid until"), _moment),
    # the filters of an export of the audit trail (its detail)
    "actor": Field(_("Who"), _name),
    "action": Field(_("Action"), lambda value, ctx: (action_label(str(value), ctx.locale), False)),
    "case_number": Field(_("Case"), _name),
    "target": Field(_("Object"), _name),
    "id_number": Field(_("Whose data (ID number)"), lambda value, ctx: (mask(str(value)), True)),
    "since": Field(_("From"), _text),
    "until": Field(_("To"), _text),
}

#: Keys that mean something else under some actions (an action, or its family before the dot).
FIELDS_OF: dict[tuple[str, str], Field] = {
    ("message.retry", "status"): Field(_("Message state"), _labelled("message")),
    ("calendar", "kind"): Field(_("Kind of day"), _table(calendar_admin.DAY_KINDS)),
    ("certificate", "role"): Field(_("Use"), _table(certificates.ROLES)),
    ("certificate", "kind"): Field(_("What was uploaded"), _table(certificates.PARTNER_KINDS)),
    ("certificate", "reason"): Field(_("Reason"), _table(certificates.REVOCATION_REASONS)),
    ("certificate.crl", "partner"): Field(_("A partner CA's list, imported"), _yes_no),
    ("certificate.crl", "days"): Field(_("Valid for"), _days),
}

#: What a key not known in advance is called.
OTHER = Field(_("Other detail"), _plain)
_REPORTED: set[str] = set()
#: Fields are listed in the order of :data:`FIELDS` (the record's own order is alphabetical); others last.
_ORDER = {key: n for n, key in enumerate(FIELDS)}


def field_of(action: str, key: str) -> Field | None:
    """How ``key`` of an entry of ``action`` is worded (None: a key no action is known to record)."""
    return FIELDS_OF.get((action, key)) or FIELDS_OF.get((action.partition(".")[0], key)) or FIELDS.get(key)


def _pairs(action: str, values: Mapping[str, Any] | None, ctx: _Context) -> list[Pair]:
    if not values:
        return []
    pairs = []
    for key, value in sorted(values.items(), key=lambda kv: (_ORDER.get(kv[0], len(_ORDER)), kv[0])):
        wording = field_of(action, key) if key else OTHER  # "": a record that is not an object
        if wording is None:
            if key not in _REPORTED:
                _REPORTED.add(key)
                log.warning("the audit trail shows a key with no words as 'other detail': %s (%s)", key, action)
            wording = OTHER
        shown, is_name = (DASH, False) if value is None else wording.value(value, ctx)
        pairs.append(Pair(ctx.words(wording.words), shown, is_name))
    return pairs


def _record(text: str | None) -> Mapping[str, Any] | None:
    """A before or after as recorded: a JSON object (anything else is shown as one other detail)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"": text}
    return value if isinstance(value, dict) else {"": value}


# --- the object and the version -------------------------------------------------------------------

#: The objects of the trail itself and of the message log, in words.
_OBJECTS: dict[tuple[str, str], Message] = {
    ("audit", "csv"): _("the audit trail, as CSV"),
    ("audit", "chain"): _("the audit trail's hash chain"),
    ("message_log", "chain"): _("the message log's hash chain"),
}


def _target(entry: AuditEntry, ctx: _Context) -> Pair:
    kind, target = entry.target_kind, entry.target
    message = _OBJECTS.get((kind, target))
    if message is not None:
        return Pair("", ctx.words(message))
    if kind == "adapter" or kind == "system":
        shown = _labelled("system")(target, ctx)
    elif kind == "operation":
        shown = _labelled("operation")(target, ctx)
    elif kind == "office":
        shown = ctx.office(target)
    elif kind == "item":
        shown = ctx.item(target)
    elif kind == "definition":
        shown = ctx.process(target)
    else:
        shown = target, True
    return Pair("", *shown)


_VERSION = re.compile(r"(.+) v(\d+)")


def _definition_words(entry: AuditEntry, ctx: _Context) -> str:
    """``elderly_care_subsidy v2`` as the process's name and version."""
    found = _VERSION.fullmatch(entry.definition or "")
    if found is None:
        return entry.definition or ""
    name, _is_name = ctx.process(found.group(1))
    return ctx.version(name, int(found.group(2))) if ctx.known is not None else ""


# --- the page -------------------------------------------------------------------------------------


def _changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, int]:
    """Before and after without the fields that stayed the same (a snapshot of every field of an
    account or an item is recorded on both sides), and how many those are; all of them when nothing
    at all changed."""
    if not before or not after:
        return before, after, 0
    same = {key for key, value in before.items() if key in after and after[key] == value}
    if not same or same == set(before) | set(after):
        return before, after, 0
    return ({k: v for k, v in before.items() if k not in same}, {k: v for k, v in after.items() if k not in same},
            len(same))  # fmt: skip


def _word(entry: AuditEntry, ctx: _Context) -> EntryWords:
    ctx.case_number = entry.case_number
    detail = None
    if entry.action == "audit.export":
        filters = _record(entry.detail)
        detail = _pairs(entry.action, filters, ctx) if filters is not None and "" not in filters else None
    before, after, same = _changes(_record(entry.before), _record(entry.after))
    after_pairs = _pairs(entry.action, after, ctx)
    if same:
        others = _("one other field") if same == 1 else _("{count} other fields", count=same)
        after_pairs.append(Pair(ctx.words(_("Unchanged")), ctx.words(others)))
    return EntryWords(
        before=_pairs(entry.action, before, ctx),
        after=after_pairs,
        detail=detail,
        target=_target(entry, ctx),
        definition=_definition_words(entry, ctx),
    )


def _look_up(session: Session, wanted: _Wanted) -> _Known:
    found = _Known()
    if wanted.cases or wanted.processes or wanted.definitions:
        found.names = step_names(session)
    if wanted.offices:
        rows = session.execute(select(Org.code, Org.name).where(Org.code.in_(wanted.offices)))
        found.offices = {code: name for code, name in rows}
    if wanted.items:
        found.items = {i.code: i for i in session.scalars(select(Item).where(Item.code.in_(wanted.items)))}
    if wanted.processes or wanted.definitions:
        versions = session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id.in_(wanted.processes) | ProcessDefinition.id.in_(wanted.definitions))
            .order_by(ProcessDefinition.version)
        )
        for version in versions:
            found.definitions[version.id] = version
            if version.process_id in wanted.processes:
                found.processes[version.process_id] = version  # the latest wins
    if wanted.cases:
        steps = session.execute(
            select(Case.number, HumanTask.step, HumanTask.name)
            .select_from(HumanTask)
            .join(Case, Case.id == HumanTask.case_id)
            .where(Case.number.in_(wanted.cases))
            .union(
                select(Case.number, CaseEvent.step, CaseEvent.step_name)
                .select_from(CaseEvent)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(Case.number.in_(wanted.cases), CaseEvent.step.is_not(None), CaseEvent.step_name.is_not(None))
            )
        )
        found.steps = {(number, step): name for number, step, name in steps if step and name}
    if wanted.people:
        found.people = {u.username: u for u in session.scalars(select(User).where(User.username.in_(wanted.people)))}
    return found


def entry_words(session: Session, entries: Sequence[AuditEntry], locale: str | None = None) -> dict[int, EntryWords]:
    """The words of each entry, by its id (the page's entries; their names read in one query each)."""
    ctx = _Context(locale)
    for entry in entries:  # what the entries name
        _word(entry, ctx)
    ctx.known = _look_up(session, ctx.wanted)
    return {entry.id: _word(entry, ctx) for entry in entries}
