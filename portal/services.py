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

from huiju.errors import PermissionDenied
from huiju.models import Case, Item, Resident, Role, User
from huiju.services import actors, cases, tasks
from portal.catalogue import THEMES, ItemGuide, Theme, guide_for, theme_of
from portal.i18n import N_

#: Mainland mobile numbers (11 digits starting with 1), optionally written with +86 and spaces.
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")

#: Timeline entries a resident reads; the others (message ids, retries) are for officers.
RESIDENT_TIMELINE = ("submitted", "task_ready", "task_completed", "timer_fired", "process_completed")


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
    if actor.role is not Role.RESIDENT or actor.resident_id is None:
        raise PermissionDenied(N_("This portal is for residents; officers use the officer console."))
    return load_account(session, actor.username)


def load_account(session: Session, username: str) -> Account:
    """The signed-in account again, on every request: a deactivated account stops at once."""
    actor = actors.load_actor(session, username)
    if actor.role is not Role.RESIDENT:
        raise PermissionDenied(N_("This portal is for residents; officers use the officer console."))
    name = session.scalar(select(User.display_name).where(User.username == username))
    return Account(actor, name or username)


# -- the catalogue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemEntry:
    item: Item
    guide: ItemGuide | None


@dataclass(frozen=True)
class ThemeGroup:
    theme: Theme
    items: list[ItemEntry]


def catalogue(session: Session) -> list[ThemeGroup]:
    """The active items grouped by theme, themes in their fixed order, empty themes left out."""
    by_theme: dict[str, list[ItemEntry]] = {}
    for item in cases.list_items(session):
        by_theme.setdefault(theme_of(item.code), []).append(ItemEntry(item, guide_for(item.code)))
    return [ThemeGroup(theme, by_theme[theme.code]) for theme in THEMES if theme.code in by_theme]


def item_entry(session: Session, code: str) -> ItemEntry:
    """One active item; NotFoundError for an unknown or withdrawn one."""
    return ItemEntry(cases.get_item(session, code), guide_for(code))


# -- cases -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    step_name: str | None
    decision: str | None


@dataclass(frozen=True)
class Expectation:
    """What the resident is expected to do now (empty ``step``: nothing, wait)."""

    step: str | None = None
    missing_materials: list[str] = field(default_factory=list)
    due_at: datetime | None = None


@dataclass(frozen=True)
class CaseView:
    case: Case
    timeline: list[TimelineEntry]
    expectation: Expectation


def my_cases(session: Session, account: Account) -> list[Case]:
    return cases.list_cases(session, account.actor)


def _missing_materials(case: Case) -> list[str]:
    """The materials named by the latest request for more material (补正) in the case's timeline."""
    for event in reversed(case.events):
        form: Any = (event.data or {}).get("form")
        if event.kind == "task_completed" and isinstance(form, dict) and form.get("decision") == "supplement":
            missing = form.get("missing_materials")
            return [str(m) for m in missing] if isinstance(missing, list) else []
    return []


def case_view(session: Session, account: Account, number: str) -> CaseView:
    """A case of the resident's own, with its timeline in plain words; NotFoundError for any other."""
    case = cases.get_case(session, account.actor, number)
    timeline = [
        TimelineEntry(
            at=event.at,
            kind=event.kind,
            step_name=event.step_name,
            decision=((event.data or {}).get("form") or {}).get("decision") if event.kind == "task_completed" else None,
        )
        for event in case.events
        if event.kind in RESIDENT_TIMELINE
    ]
    expectation = Expectation()
    mine = [t for t in tasks.inbox(session, account.actor) if t.case_id == case.id]
    if mine:
        task = mine[0]
        missing = _missing_materials(case) if task.step == "supplement" else []
        expectation = Expectation(step=task.name, missing_materials=missing, due_at=task.due_at)
    return CaseView(case, timeline, expectation)
