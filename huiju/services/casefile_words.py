"""The case file in words (案卷): what each person reads of a case, with no code shown.

- :func:`officer_timeline` — every step in the officer's terms: who (name and office), what, which
  step, which government system, and the detail in words (a decision and its opinion, an outcome,
  an operation);
- :func:`resident_timeline` — what happened, told to the applicant ("社区已受理您的申请");
- :func:`material_rows` — each file under its material's name, rounds numbered from 1;
- :func:`outcome_of` — how a concluded case ended, in words (for the subsidy: tier, amount, from when);
- :func:`message_rows` — the exchange with the government systems in words.

Times are Beijing time (:data:`huiju.calendar.CHINA`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import CHINA
from huiju.i18n import _, localize, normalize
from huiju.labels import label
from huiju.models import Case, CaseEvent, Material, User
from huiju.services.decisions import material_words, opinion_words, reason_words
from huiju.services.documents import Grant, subsidy_grant
from workflows_bpmn.step_names import StepNames, step_names


def china_time(moment: datetime | None) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def china_day(moment: datetime | date | None, locale: str | None) -> str:
    if moment is None:
        return ""
    day = moment.astimezone(CHINA).date() if isinstance(moment, datetime) else moment
    return str(day) if locale == "en" else f"{day.year}年{day.month}月{day.day}日"


# -- who --------------------------------------------------------------------------------------------------


def people(session: Session, names: Iterable[str]) -> dict[str, User]:
    wanted = set(names)
    return {u.username: u for u in session.scalars(select(User).where(User.username.in_(wanted)))} if wanted else {}


def who(username: str, known: Mapping[str, User], locale: str | None) -> str:
    """A person's name and office, or a system's name: never a user name or a code."""
    user = known.get(username)
    if user is not None:
        office = user.org.name if user.org is not None and user.role.value != "resident" else ""
        return f"{user.display_name}（{office}）" if office and office not in user.display_name else user.display_name
    if username == "system":
        return label("role", "system", locale)
    shown = label("system", username, locale)
    return shown if shown != username else localize(_("someone no longer registered"), locale)


# -- the officer's timeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    at: str
    kind: str  # kept for the page's styling (class names), never shown
    who: str
    what: str
    step: str = ""
    system: str = ""
    detail: str = ""


def _operation_detail(detail: str, locale: str | None) -> str:
    operation, _sep, rest = detail.partition(": ")
    shown = label("operation", operation, locale)
    return _said(shown, rest, locale)


def _form_detail(case: Case, form: Mapping[str, Any], locale: str | None) -> str:
    decision = str(form.get("decision") or "")
    words = label("decision", decision, locale) if decision else ""
    text = opinion_words(form, locale)
    missing = form.get("missing_materials")
    if isinstance(missing, list) and missing:
        listed = _list_of(material_words(case, [str(m) for m in missing], locale), locale)
        text = localize(_("{text} ({listed})", text=text, listed=listed), locale) if text else listed
    return _said(words, text, locale)


def _said(what: str, detail: str | None, locale: str | None) -> str:
    """``what: detail`` with the reader's punctuation (``what`` alone without a detail)."""
    return localize(_("{what}: {detail}", what=what, detail=detail), locale) if detail else what


def _list_of(names: list[str], locale: str | None) -> str:
    return ("、" if normalize(locale) != "en" else ", ").join(names)


def _detail(case: Case, event: CaseEvent, known: Mapping[str, User], steps: StepNames, locale: str | None) -> str:
    data = event.data or {}
    kind = event.kind
    if kind == "task_completed" and isinstance(data.get("form"), dict):
        return _form_detail(case, data["form"], locale)
    if kind in ("service_requested", "service_replied", "service_failed", "service_ignored", "service_cancelled",
                "incident"):  # fmt: skip
        return _operation_detail(event.detail, locale) if event.detail else ""
    if kind == "submitted" and event.detail == case.item.name:  # the item applied for
        return case.item.name_in(locale)
    if kind == "process_started":  # "{process name} v{version}"
        name, _v, version = (event.detail or "").rpartition(" v")
        return f"{steps.of(name, locale)} v{version}" if name else event.detail
    if kind == "process_completed":
        return label("outcome", event.detail, locale) if event.detail else ""
    if kind == "task_ready":
        return label("role", event.detail, locale) if event.detail else ""
    if kind == "returned":
        target = steps.of(str(data.get("to_step_name") or ""), locale)
        return localize(_("to {step}: {comment}", step=target, comment=event.detail), locale)
    if kind == "task_transferred":
        return localize(_("to {person}: {reason}", person=who(str(data.get("to") or ""), known, locale),
                          reason=str(data.get("reason") or "")), locale)  # fmt: skip
    if kind == "task_assigned":
        return localize(_("to {person}", person=who(str(data.get("to") or ""), known, locale)), locale)
    if kind in ("task_claimed", "task_released", "sms_delivered", "sms_failed", "incident_retried"):
        return ""  # who took it is in the "who" column; message and SMS ids are for the message log
    if kind == "message_received" and isinstance(data.get("payload"), dict):
        payload = data["payload"]
        outcome = "approved" if payload.get("decision") == "approved" else "denied"
        reason = str(payload.get("reason") or "")
        return _said(label("outcome", outcome, locale), reason, locale)
    if kind == "rated":
        comment = str(data.get("comment") or "")
        return _said(label("rating", str(data.get("level") or event.detail), locale), comment, locale)
    if kind == "timer_fired":
        try:
            return china_time(datetime.fromisoformat(event.detail))
        except ValueError:
            return ""
    if kind == "document_issued":
        return label("document", str(data.get("document_kind") or ""), locale) + f" {event.detail}"
    if kind == "clock_resumed" and isinstance(data.get("paused_days"), int):
        return localize(_("stopped for {days} working days", days=data["paused_days"]), locale)
    if kind == "material_uploaded" and ": " in (event.detail or ""):  # "{material as asked}: {file name}"
        asked, _sep, file_name = event.detail.partition(": ")
        return _said(material_words(case, [asked], locale)[0], file_name, locale)
    return event.detail


def officer_timeline(session: Session, case: Case, locale: str | None) -> list[Line]:
    events = list(case.events)
    known = people(session, {e.actor for e in events} | {str((e.data or {}).get("to") or "") for e in events})
    steps = step_names(session)
    return [
        Line(
            at=china_time(e.at),
            kind=e.kind,
            who=who(e.actor, known, locale),
            what=label("timeline", e.kind, locale),
            step=steps.of(e.step_name, locale),
            system=label("system", e.system, locale) if e.system else "",
            detail=_detail(case, e, known, steps, locale),
        )  # fmt: skip
        for e in events
    ]


# -- the resident's timeline -----------------------------------------------------------------------------

_APPROVED_AT = {"review": _("The community approved your application"),
                "street_review": _("The street office approved your application")}  # fmt: skip


def _resident_text(case: Case, event: CaseEvent, locale: str | None) -> str | None:
    data = event.data or {}
    form = data.get("form") if event.kind == "task_completed" else None
    if event.kind == "submitted":
        return localize(_("You submitted the application"), locale)
    if isinstance(form, dict):
        decision = form.get("decision")
        reason = reason_words(form, locale)
        if decision == "accept":
            return localize(_("The community accepted your application"), locale)
        if decision == "refuse":
            return localize(_("The community did not accept your application: {reason}", reason=reason), locale)
        if decision == "supplement":
            missing = _list_of(
                material_words(case, [str(m) for m in form.get("missing_materials") or []], locale), locale
            )
            return localize(_("The community asks you for more material: {materials}", materials=missing), locale)
        if decision == "submit":
            return localize(_("You sent the material asked for"), locale)
        if decision == "approve" and event.step in _APPROVED_AT:
            return localize(_APPROVED_AT[event.step], locale)
        if decision == "deny":
            return localize(_("Your application was not approved: {reason}", reason=reason), locale)
        if decision == "answer":
            return localize(_("The community answered your request"), locale)
        return None
    if event.kind == "message_received" and isinstance(data.get("payload"), dict):
        payload = data["payload"]
        if payload.get("decision") == "approved":
            return localize(_("The district's approval platform approved your application"), locale)
        reason = str(payload.get("reason") or "")
        return localize(_("The district's approval platform did not approve: {reason}", reason=reason), locale)
    if event.kind == "process_completed":
        outcome = label("outcome", event.detail, locale)
        return localize(_("Your case is concluded: {outcome}", outcome=outcome), locale)
    if event.kind == "document_issued":
        document = label("document", str(data.get("document_kind") or ""), locale)
        return localize(_("{document} issued (no. {number}); you can download it below", document=document,
                          number=event.detail), locale)  # fmt: skip
    if event.kind == "withdrawn":
        return localize(_("You withdrew the application"), locale)
    if event.kind == "rated":
        return localize(_("You rated the service: {level}", level=label("rating", event.detail, locale)), locale)
    return None


@dataclass(frozen=True)
class ResidentLine:
    at: str
    text: str


def resident_timeline(case: Case, locale: str | None) -> list[ResidentLine]:
    lines = []
    for event in case.events:
        text = _resident_text(case, event, locale)
        if text:
            lines.append(ResidentLine(china_time(event.at), text))
    return lines


# -- materials -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaterialRow:
    material: Material
    name: str  # the material's name (身份证, 户口簿 ...), never its code
    round: str  # 随申请提交, 第 1 次补正 ...


def supplement_requests(case: Case) -> list[list[str]]:
    """What each request for more material (补正) asked for, in order: round n answers the n-th."""
    asked = []
    for event in case.events:
        form = (event.data or {}).get("form")
        if event.kind == "task_completed" and isinstance(form, dict) and form.get("decision") == "supplement":
            asked.append([str(m) for m in form.get("missing_materials") or []])
    return asked


def material_name(case: Case, code: str, round_: int, locale: str | None) -> str:
    for m in case.item.required_materials:
        if m.get("code") == code:
            return str(m.get("name_en") or m.get("name")) if locale == "en" else str(m.get("name") or code)
    if code == "consent_form":
        return localize(_("Signed consent form"), locale)
    if code.startswith("supplement_") and code[11:].isdigit():
        asked = supplement_requests(case)
        position = int(code[11:]) - 1
        if 0 < round_ <= len(asked) and position < len(asked[round_ - 1]):
            return material_words(case, [asked[round_ - 1][position]], locale)[0]
    return localize(_("Other material"), locale)


def round_words(round_: int, locale: str | None) -> str:
    if round_ <= 0:
        return localize(_("With the application"), locale)
    return localize(_("Supplement {n}", n=round_), locale)


def material_rows(case: Case, materials: list[Material], locale: str | None) -> list[MaterialRow]:
    return [
        MaterialRow(m, material_name(case, m.code, m.round, locale), round_words(m.round, locale)) for m in materials
    ]


# -- the outcome -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    label: str
    details: list[str] = field(default_factory=list)
    concluded: str = ""


def outcome_of(session: Session, case: Case, locale: str | None) -> Outcome | None:
    """How a concluded case ended, in words; None while it runs."""
    if case.outcome is None:
        return None
    details: list[str] = []
    grant: Grant | None = subsidy_grant(session, case) if case.outcome == "approved" else None
    if grant is not None:
        details.append(localize(_("Subsidy tier: {tier}", tier=label("tier", grant.tier, locale)), locale))
        details.append(localize(_("Monthly amount: {amount} yuan", amount=grant.monthly_amount), locale))
        if grant.from_day is not None:
            details.append(localize(_("Paid from: {day}", day=china_day(grant.from_day, locale)), locale))
    for event in reversed(case.events):
        form = (event.data or {}).get("form")
        if case.outcome in ("refused", "denied") and isinstance(form, dict) and form.get("reason"):
            details.append(localize(_("Reason: {reason}", reason=reason_words(form, locale)), locale))
            break
        payload = (event.data or {}).get("payload")
        if case.outcome == "denied" and isinstance(payload, dict) and payload.get("reason"):
            details.append(localize(_("Reason: {reason}", reason=str(payload["reason"])), locale))
            break
    return Outcome(label("outcome", case.outcome, locale), details, china_time(case.concluded_at))


# -- messages with the government systems ----------------------------------------------------------------


@dataclass(frozen=True)
class MessageRow:
    at: str
    system: str
    operation: str
    direction: str
    result: str
    message_id: str


def message_rows(outbox: list[Any], log: list[Any], locale: str | None) -> list[MessageRow]:
    rows = [
        MessageRow(
            china_time(m.created_at),
            label("system", m.system, locale),
            label("operation", m.operation, locale),
            label("message", "outbox", locale),
            _said(label("message", m.status.value, locale), m.last_error, locale),
            m.message_id,
        )  # fmt: skip
        for m in outbox
    ]
    rows += [
        MessageRow(
            china_time(e.at),
            label("system", e.system, locale) if e.system else "",
            label("operation", e.operation, locale) if e.operation else "",
            f"{label('message', e.direction.value, locale)} · {label('message', e.kind.value, locale)}",
            _said(label("message", e.outcome.value, locale), e.error, locale),
            e.message_id or "",
        )  # fmt: skip
        for e in log
    ]
    return rows
