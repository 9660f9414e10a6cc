"""Decision forms of the officer's steps, and the opinions (意见) the decisions carry.

Every decision carries an opinion, as in a Chinese OA approval chain (审批意见): the officer's own
words, or the phrase of the trade for a plain acceptance or approval
(:data:`huiju.labels.STANDARD_OPINIONS`). :func:`opinion_chain` reads them back from the case's
timeline — who, which office, when, which step, what was decided and why — and marks the ones
addressed to the applicant (the reason for 不予受理 or a denial, what a 补正 asks for, an answer).

- ``refuse`` (不予受理) and ``deny``: a reason from :data:`REFUSAL_REASONS` plus free text;
- ``supplement`` (补正): every missing material at once, from the item's list plus "other";
- ``return`` (退回): a step the case has passed, with a comment;
- ``co_review`` (加签): another officer of the same community, with a comment;
- ``disagree`` (加签 answered 不同意): the co-reviewer says why in the comment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.errors import InputError
from huiju.i18n import Message, _, localize, normalize
from huiju.labels import STANDARD_OPINIONS, standard_opinion
from huiju.models import Case, CaseEvent, User
from huiju.services import tasks as task_service
from huiju.services.actors import Actor
from workflows_bpmn.mirror import StepResult
from workflows_bpmn.models import HumanTask
from workflows_bpmn.runner import Engine

#: Standard reasons for refusing (不予受理) or denying an application; "other" needs free text.
REFUSAL_REASONS: dict[str, Message] = {
    "outside_remit": _("The matter is not within the remit of this office"),
    "ineligible": _("The applicant does not meet the conditions of the item"),
    "materials_false": _("The materials are false or do not agree with each other"),
    "duplicate": _("The same application is already being handled"),
    "not_supplemented": _("The missing materials were not supplied in time"),
    "other": _("Other reason (explained below)"),
}
OTHER = "other"
MAX_TEXT = 1000


@dataclass(frozen=True)
class DecisionOptions:
    """What the decision forms of one task offer."""

    decisions: list[str]
    materials: list[tuple[str, str]] = field(default_factory=list)  # (code, name) of the item
    return_targets: list[tuple[str, str]] = field(default_factory=list)  # (step id, name)
    co_reviewers: list[tuple[str, str]] = field(default_factory=list)  # (user name, display name)
    #: The Chinese name of each material code: what the case records and the resident reads (补正).
    material_names: dict[str, str] = field(default_factory=dict)


def _material_names(case: Case | None, locale: str) -> list[tuple[str, str]]:
    if case is None:
        return []
    shown = []
    for m in case.item.required_materials:
        name = m.get("name_en") if locale == "en" and m.get("name_en") else m.get("name", m.get("code"))
        shown.append((str(m["code"]), str(name)))
    return shown


def decision_options(session: Session, engine: Engine, actor: Actor, task: HumanTask, locale: str) -> DecisionOptions:
    case = session.get(Case, task.case_id) if task.case_id is not None else None
    targets: list[tuple[str, str]] = []
    if "return" in task.decisions:
        targets = task_service.return_targets(session, engine, actor, task.id)
    reviewers = []
    if "co_review" in task.decisions:
        reviewers = [(u.username, u.display_name) for u in task_service.colleagues(session, actor, task.role)]
    names = dict(_material_names(case, "zh_CN"))
    return DecisionOptions(list(task.decisions), _material_names(case, locale), targets, reviewers, names)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > MAX_TEXT:
        raise InputError(_("'{field}' is longer than {limit} characters", field=name, limit=MAX_TEXT), field=name)
    return text


def _list(form: Mapping[str, Any], name: str) -> list[str]:
    value = form.get(name)
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Sequence):
        return [str(v) for v in value if str(v)]
    return []


def decision_data(options: DecisionOptions, decision: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The task data for ``decision`` from a posted form; a clear error for anything missing."""
    if decision not in options.decisions:
        raise InputError(_("'{decision}' is not a decision of this step", decision=decision), field="decision")
    comment = _text(form, "comment")
    if decision in ("refuse", "deny"):
        code = _text(form, "reason_code")
        if code not in REFUSAL_REASONS:
            raise InputError(_("choose a reason from the list"), field="reason_code")
        if code == OTHER and not comment:
            raise InputError(_("explain the reason in the text box"), field="comment")
        reason = str(REFUSAL_REASONS[code].localize("zh_CN"))
        reason = comment if code == OTHER else (f"{reason}：{comment}" if comment else reason)
        return {"reason": reason, "reason_code": code, "comment": comment or reason}
    if decision == "supplement":
        known = {code for code, _name in options.materials}
        chosen = _list(form, "missing")
        unknown = [c for c in chosen if c not in known]
        if unknown:
            raise InputError(_("'{code}' is not a material of this item", code=unknown[0]), field="missing")
        other = _text(form, "missing_other")
        missing = [options.material_names.get(code, code) for code in chosen] + ([other] if other else [])
        if not missing:
            raise InputError(_("tick every missing material (or describe it under 'other')"), field="missing")
        return {"missing_materials": missing, "comment": comment}
    if decision == "return":
        target = _text(form, "to_step")
        if target not in {step for step, _name in options.return_targets}:
            raise InputError(_("choose a step the case has passed"), field="to_step")
        if not comment:
            raise InputError(_("say why the case goes back"), field="comment")
        return {"to_step": target, "comment": comment}
    if decision == "co_review":
        reviewer = _text(form, "co_reviewer")
        if reviewer not in {name for name, _shown in options.co_reviewers}:
            raise InputError(_("choose an officer of the same community"), field="co_reviewer")
        return {"co_reviewer": reviewer, "comment": comment}
    if decision == "answer":  # a service request (诉求): the answer the resident reads and gets by SMS
        answer = _text(form, "answer")
        if not answer:
            raise InputError(_("write the answer to the resident"), field="answer")
        return {"answer": answer, "comment": comment}
    if decision == "done" and not comment:  # a follow-up or a supervision: say what was done
        raise InputError(_("say what was done"), field="comment")
    if decision == "disagree" and not comment:
        raise InputError(_("say why you disagree"), field="comment")
    if not comment and not standard_opinion(decision):
        raise InputError(_("write your opinion"), field="comment")
    return {"comment": comment or standard_opinion(decision)}


def decide(
    session: Session, engine: Engine, actor: Actor, task_id: str, decision: str, form: Mapping[str, Any], locale: str
) -> StepResult:
    """Check the posted form of a decision, then complete the task (one transaction)."""
    task = task_service.get_task(session, actor, task_id)
    options = decision_options(session, engine, actor, task, locale)
    return task_service.complete_task(session, engine, actor, task.id, decision, decision_data(options, decision, form))


# -- the chain of opinions (审批意见) ----------------------------------------------------------------

#: Decisions whose opinion is addressed to the applicant: the resident reads these.
TO_APPLICANT = frozenset({"refuse", "deny", "supplement", "answer", "submit"})


@dataclass(frozen=True)
class Opinion:
    """One link of the chain: who decided what at which step, and why, in their own words."""

    at: datetime
    step_name: str
    decision: str  # a code of :data:`huiju.labels.DECISIONS`, or "return" / "transfer" / an outcome
    text: str
    username: str
    who: str  # the person's name ("" when a government system decided: its name is ``role``)
    office: str  # their office (community, street), or the system's name
    role: str  # a code of :data:`huiju.labels.ROLES` or a system of :data:`huiju.labels.SYSTEMS`
    to_applicant: bool = False
    missing: list[str] = field(default_factory=list)  # what a 补正 asks for


def _opinion_text(form: Mapping[str, Any]) -> str:
    decision = str(form.get("decision") or "")
    if decision in ("refuse", "deny", "close") and form.get("reason"):
        return str(form["reason"])
    if decision == "answer":
        return str(form.get("answer") or "")
    if decision == "submit":
        return str(form.get("note") or form.get("comment") or "")
    # A plain decision taken without words (through the API or the command line) carries the phrase of
    # the trade, as one taken in the console does.
    return str(form.get("comment") or form.get("reason") or standard_opinion(decision))


# -- a recorded decision in the reader's language ---------------------------------------------------------
# A decision is recorded as it was made, in Chinese (the official record, what the resident's SMS and
# the government systems receive). Read in English, the parts chosen from a list are said in English:
# the reason chosen, the phrase of the trade, the materials of the item; what a person wrote stays.


def reason_words(form: Mapping[str, Any], locale: str | None) -> str:
    """A refusal's or denial's reason as recorded; read in English, the reason chosen from the list
    is said in English, followed by what the officer added in their own words."""
    recorded = str(form.get("reason") or "")
    message = REFUSAL_REASONS.get(str(form.get("reason_code") or ""))
    if message is None or normalize(locale) != "en":
        return recorded
    stated = message.localize("zh_CN")
    if recorded == stated:
        return message.localize("en")
    prefix = f"{stated}："  # as decision_data records a chosen reason with words added
    if recorded.startswith(prefix):
        return localize(_("{reason}: {comment}", reason=message.localize("en"), comment=recorded[len(prefix) :]), "en")
    return recorded  # written freely (or through the API): as written


def _standard_in(text: str, decision: str, locale: str | None) -> str:
    """The phrase of the trade in the reader's language, when ``text`` is it (in either language)."""
    message = STANDARD_OPINIONS.get(decision)
    if message is not None and text in (message.localize("zh_CN"), message.localize("en")):
        return message.localize(normalize(locale))
    return text


def opinion_words(form: Mapping[str, Any], locale: str | None) -> str:
    """The opinion a decision's form records, as :func:`_opinion_text`, in the reader's language."""
    decision = str(form.get("decision") or "")
    if decision in ("refuse", "deny", "close") and form.get("reason"):
        return reason_words(form, locale)
    text = _opinion_text(form) or str(form.get("note") or form.get("answer") or "")
    return _standard_in(text, decision, locale)


def material_words(case: Case, names: Sequence[str], locale: str | None) -> list[str]:
    """Materials a 补正 asked for, recorded by their Chinese names: in English, the item's English
    names (a material described in the officer's words stays as written)."""
    if normalize(locale) != "en":
        return [str(n) for n in names]
    english = {m.get("name"): m.get("name_en") for m in case.item.required_materials if m.get("name_en")}
    return [str(english.get(n) or n) for n in names]


def opinion_chain(
    session: Session, case: Case, *, for_applicant: bool = False, locale: str | None = None
) -> list[Opinion]:
    """The opinions of every decision on the case, oldest first (only the applicant's, if asked); with
    ``locale``, in the reader's language (:func:`opinion_words`), else as recorded."""
    events = list(case.events)
    names = {e.actor for e in events}
    people = {
        u.username: u for u in session.scalars(select(User).where(User.username.in_(names)))
    } if names else {}  # fmt: skip
    chain = [o for o in (_opinion(case, e, people, locale) for e in events) if o is not None]
    return [o for o in chain if o.to_applicant] if for_applicant else chain


def _person(username: str, people: Mapping[str, User]) -> tuple[str, str, str]:
    user = people.get(username)
    if user is None:
        return username, "", "system"
    office = user.org.name if user.org is not None and user.role.value != "resident" else ""
    return user.display_name, office, "applicant" if user.role.value == "resident" else user.role.value


def _opinion(case: Case, event: CaseEvent, people: Mapping[str, User], locale: str | None) -> Opinion | None:
    data = event.data or {}
    if event.kind == "task_completed" and isinstance(data.get("form"), dict):
        form = data["form"]
        decision = str(form.get("decision") or "")
        who, office, role = _person(event.actor, people)
        missing = form.get("missing_materials")
        asked = [str(m) for m in missing] if isinstance(missing, list) else []
        return Opinion(
            at=event.at, step_name=event.step_name or "", decision=decision,
            text=_opinion_text(form) if locale is None else opinion_words(form, locale),
            username=event.actor, who=who, office=office, role=role, to_applicant=decision in TO_APPLICANT,
            missing=asked if locale is None else material_words(case, asked, locale),
        )  # fmt: skip
    if event.kind == "returned":
        who, office, role = _person(event.actor, people)
        return Opinion(event.at, event.step_name or "", "return", event.detail, event.actor, who, office, role)
    if event.kind == "task_transferred":
        who, office, role = _person(event.actor, people)
        text = str(data.get("reason") or "")
        return Opinion(event.at, event.step_name or "", "transfer", text, event.actor, who, office, role)
    if event.kind == "message_received" and isinstance(data.get("payload"), dict):
        payload = data["payload"]
        decision = "approve" if payload.get("decision") == "approved" else "deny"
        # The extranet's own reviewer id (egov-reviewer-01) means nothing here: the platform decided.
        return Opinion(
            at=event.at, step_name="", decision=decision, text=str(payload.get("reason") or ""),
            username=event.actor, who="", office="", role="egov_approval", to_applicant=decision == "deny",
        )  # fmt: skip
    return None
