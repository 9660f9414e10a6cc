"""The portal's use cases over Huiju's services: sign a resident in, read the catalogue, read cases.

Each function receives a session its caller opened and returns plain data for a template; who may
see what is decided by :mod:`huiju.services` (a resident's :class:`Actor` sees only their own cases).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import WorkingCalendar
from huiju.errors import NotFoundError, PermissionDenied
from huiju.models import FINAL, WITHDRAWABLE, Case, CaseStatus, Document, Item, Material, Rating, Resident, Role, User
from huiju.services import (
    actors,
    applications,
    casefile_words,
    cases,
    decisions,
    documents,
    item_search,
    materials,
    ratings,
    worklist,
)
from huiju.services.worklist import TimeLeft
from portal.catalogue import THEMES, Theme
from portal.i18n import N_

#: Mainland mobile numbers (11 digits starting with 1), optionally written with +86 and spaces.
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")

#: Timeline entries a resident reads; the others (message ids, retries) are for officers.
RESIDENT_TIMELINE = (
    "submitted", "task_ready", "task_completed", "timer_fired", "process_completed", "material_uploaded",
    "withdrawn", "rated",
)  # fmt: skip


@dataclass(frozen=True)
class Account:
    actor: actors.Actor
    display_name: str


def normalize_login(login: str) -> str:
    """A user name as typed, or a phone number reduced to its 11 digits (spaces and +86 dropped)."""
    text = login.strip()
    compact = re.sub(r"[\s-]", "", text)
    match = _PHONE.match(compact)
    return match.group(1) if match else text


def _username_for(session: Session, login: str) -> str:
    if not _PHONE.match(login):
        return login
    usernames = list(
        session.scalars(
            select(User.username)
            .join(Resident, User.resident_id == Resident.id)
            .where(Resident.phone == login, User.role == Role.RESIDENT)
            .limit(2)
        )
    )
    # A phone shared by two accounts names neither: the resident signs in with the user name.
    return usernames[0] if len(usernames) == 1 else login


def sign_in(session: Session, login: str, password: str) -> Account:
    """A resident's account for a user name or phone number and password; PermissionDenied otherwise."""
    try:
        actor = actors.authenticate(session, _username_for(session, normalize_login(login)), password)
    except PermissionDenied as exc:
        raise PermissionDenied(N_("The user name, phone number or password is wrong.")) from exc
    # A family member living elsewhere has a resident's account without a resident record here
    # (亲属账户): they order community services for a parent linked to them.
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(N_("This portal is for residents; officers use the officer console."))
    return load_account(session, actor.username)


def load_account(session: Session, username: str) -> Account:
    """The signed-in account again, on every request: a deactivated account stops at once."""
    return account_of(actors.find_user(session, username), username)


def account_of(user: User | None, username: str) -> Account:
    """The portal's account of ``username``'s user row (read with its office): NotFoundError when
    there is none or it is deactivated, PermissionDenied for an officer."""
    if user is None or not user.active:
        raise NotFoundError(N_("This account is no longer active."))
    actor = actors.actor_for(user)
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(N_("This portal is for residents; officers use the officer console."))
    return Account(actor, user.display_name or username)


# -- the catalogue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeGroup:
    theme: Theme
    items: list[Item]


def catalogue(session: Session) -> list[ThemeGroup]:
    """The active items grouped by theme (from the item rows), themes in their fixed order."""
    by_theme: dict[str, list[Item]] = {}
    for item in cases.list_items(session):
        by_theme.setdefault(item.theme.value, []).append(item)
    return [ThemeGroup(theme, by_theme[theme.code]) for theme in THEMES if theme.code in by_theme]


def search_catalogue(session: Session, query: str) -> list[Item]:
    """The active items a resident's search finds (Chinese, English, pinyin or its initials), best first."""
    return item_search.search(cases.list_items(session), query)


def item_entry(session: Session, code: str) -> Item:
    """One active item; NotFoundError for an unknown or withdrawn one."""
    return cases.get_item(session, code)


# -- cases -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    step_name: str | None
    decision: str | None
    detail: str = ""


@dataclass(frozen=True)
class Expectation:
    """What the resident is expected to do now (empty ``step``: nothing, wait)."""

    step: str | None = None
    step_name: str | None = None
    missing_materials: list[str] = field(default_factory=list)
    due_at: datetime | None = None


@dataclass(frozen=True)
class CaseView:
    case: Case
    timeline: list[TimelineEntry]
    expectation: Expectation
    time_left: TimeLeft | None = None
    materials: list[Material] = field(default_factory=list)
    answer: str | None = None  # a service request's answer (诉求答复)
    rating: Rating | None = None
    can_rate: bool = False
    can_withdraw: bool = False
    on_behalf: bool = False  # the signed-in resident applied for someone else (代办)
    #: What happened, told to the applicant; the opinions addressed to them; the outcome; documents.
    story: list[casefile_words.ResidentLine] = field(default_factory=list)
    opinions: list[decisions.Opinion] = field(default_factory=list)
    outcome: casefile_words.Outcome | None = None
    documents: list[Document] = field(default_factory=list)
    material_rows: list[casefile_words.MaterialRow] = field(default_factory=list)
    #: Files the resident uploaded toward the 补正 answer, not sent yet, by requested material position.
    pending: dict[int, Material] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseRow:
    """A case as "my cases" lists it: the same status and time left as its own page shows."""

    case: Case
    time_left: TimeLeft | None


def my_cases(session: Session, account: Account) -> list[CaseRow]:
    found = cases.list_cases(session, account.actor)
    calendar = WorkingCalendar.load(session) if found else None
    return [CaseRow(c, _time_left(session, c, calendar)) for c in found]


def _time_left(session: Session, case: Case, calendar: WorkingCalendar | None = None) -> TimeLeft | None:
    """The committed limit in working days, as the officers see it (stopped while the resident is asked);
    None once the case has ended: its clock no longer counts."""
    if case.status in FINAL:
        return None
    if calendar is None:
        committed, _statutory = worklist.time_left_of(session, case)
    else:
        committed, _statutory = worklist.time_left(calendar, case, worklist.today_in_china())
    return committed


def _answer(case: Case) -> str | None:
    for event in reversed(case.events):
        form: Any = (event.data or {}).get("form")
        if event.kind == "task_completed" and isinstance(form, dict) and form.get("decision") == "answer":
            return str(form.get("answer") or "")
    return None


def case_view(session: Session, account: Account, number: str, locale: str = "zh_CN") -> CaseView:
    """A case the resident may see (their own, or one they applied for), with its timeline in plain
    words and what is expected now; NotFoundError for any other."""
    case = cases.get_case(session, account.actor, number)
    timeline = [
        TimelineEntry(
            at=event.at,
            kind=event.kind,
            step_name=event.step_name,
            decision=((event.data or {}).get("form") or {}).get("decision") if event.kind == "task_completed" else None,
            detail=event.detail if event.kind == "material_uploaded" else "",
        )
        for event in case.events
        if event.kind in RESIDENT_TIMELINE
    ]
    expectation = Expectation()
    task = applications.ready_task(session, case)
    if task is not None and task.role == Role.RESIDENT.value:
        missing = applications.requested_materials(case) if task.step == applications.SUPPLEMENT_STEP else []
        missing = decisions.material_words(case, missing, locale)
        expectation = Expectation(step=task.step, step_name=task.name, missing_materials=missing, due_at=task.due_at)
    rating = ratings.rating_of(session, case)
    files = materials.materials_of_case(session, case.id)
    return CaseView(
        case=case,
        timeline=timeline,
        expectation=expectation,
        time_left=_time_left(session, case),
        materials=files,
        answer=_answer(case),
        rating=rating,
        can_rate=case.status is CaseStatus.CONCLUDED and rating is None and case.outcome != "withdrawn",
        can_withdraw=case.status in WITHDRAWABLE,
        on_behalf=case.applicant_id != account.actor.resident_id,
        story=casefile_words.resident_timeline(case, locale),
        opinions=decisions.opinion_chain(session, case, for_applicant=True, locale=locale),
        outcome=casefile_words.outcome_of(session, case, locale),
        documents=documents.documents_of(session, case),
        material_rows=casefile_words.material_rows(case, files, locale),
        pending=applications.pending_by_position(session, account.actor, case) if expectation.step else {},
    )


def case_document(session: Session, account: Account, number: str, document_id: int) -> Document:
    """A written document of one of the resident's cases (else not found)."""
    return documents.get_document(session, account.actor, number, document_id)
