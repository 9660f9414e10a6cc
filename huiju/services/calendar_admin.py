"""Keeping the working-day calendar: a year's holidays and adjusted working days (调休) entered by
the administrator (:class:`huiju.calendar.CalendarOverride`), and the deadlines recomputed when a
year gets its schedule.

A schedule file is JSON (``{"holidays": [{"day": "2027-01-01", "name": "元旦"}, ...], "workdays":
[...]}``, a day may also be a bare string) or text, one day a line: ``2027-01-01 holiday 元旦`` or
``2027-02-07 workday``; blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from huiju.calendar import LIBRARY_YEARS, OVERRIDE_KINDS, CalendarOverride, CalendarYear
from huiju.errors import InputError, PermissionDenied
from huiju.i18n import Message, _
from huiju.models import Role
from huiju.services import audit, clock
from huiju.services.actors import Actor
from workflows_bpmn.runner import Engine

#: The kinds of an entered day (:data:`huiju.calendar.OVERRIDE_KINDS`), in words.
DAY_KINDS: dict[str, Message] = {"holiday": _("holiday"), "workday": _("working day")}

#: Largest schedule file accepted.
MAX_SCHEDULE_BYTES = 64 * 1024


@dataclass(frozen=True)
class YearSchedule:
    year: int
    known: bool
    in_library: bool
    overrides: list[CalendarOverride]
    published: CalendarYear | None = None


@dataclass(frozen=True)
class Report:
    days: int
    recomputed: int


def _admin(actor: Actor) -> None:
    if actor.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(_("only administrators keep the calendar"))


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(_("'{value}' is not a date (YYYY-MM-DD)", value=text.strip())) from exc


def parse_year(text: str) -> int:
    try:
        year = int(text.strip())
    except ValueError as exc:
        raise InputError(_("'{value}' is not a year", value=text.strip())) from exc
    if not 1900 <= year <= 2200:
        raise InputError(_("'{value}' is not a year", value=text.strip()))
    return year


def _kind(value: str) -> str:
    if value not in OVERRIDE_KINDS:
        raise InputError(_("calendar override kind must be 'holiday' or 'workday', not {kind}", kind=repr(value)))
    return value


#: The years whose working calendar the console shows and edits.
FIRST_YEAR, LAST_YEAR = 2000, 2199


def year_schedule(session: Session, year: int) -> YearSchedule:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(_("the calendar shows the years {first} to {last}", first=FIRST_YEAR, last=LAST_YEAR),
                         field="year")  # fmt: skip
    rows = list(
        session.scalars(
            select(CalendarOverride)
            .where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31))
            .order_by(CalendarOverride.day)
        )
    )
    published = session.get(CalendarYear, year)
    return YearSchedule(year, year in LIBRARY_YEARS or published is not None, year in LIBRARY_YEARS, rows, published)


def set_day(session: Session, engine: Engine, actor: Actor, day: date, kind: str, name: str = "") -> Report:
    """Enter (or change) one day of the official schedule, then recompute the deadlines it moves."""
    _admin(actor)
    kind = _kind(kind)
    row = session.scalars(select(CalendarOverride).where(CalendarOverride.day == day)).one_or_none()
    before = {"kind": row.kind, "name": row.name} if row is not None else None
    if row is None:
        session.add(CalendarOverride(day=day, kind=kind, name=name.strip()[:100]))
    else:
        row.kind, row.name = kind, name.strip()[:100]
    session.flush()
    report = Report(1, clock.recompute(session, engine, day.year))
    audit.record(session, actor, "calendar.set_day", target_kind="calendar", target=day.isoformat(), before=before,
                 after={"kind": kind, "name": name.strip()[:100]})  # fmt: skip
    return report


def remove_day(session: Session, engine: Engine, actor: Actor, day: date) -> Report:
    """Remove one day's entry, then recompute the deadlines it moves."""
    _admin(actor)
    done = session.execute(delete(CalendarOverride).where(CalendarOverride.day == day))
    if getattr(done, "rowcount", 0) == 0:
        raise InputError(_("{day} has no calendar entry", day=day.isoformat()))
    report = Report(1, clock.recompute(session, engine, day.year))
    audit.record(session, actor, "calendar.remove_day", target_kind="calendar", target=day.isoformat())
    return report


def parse_schedule(year: int, text: str) -> list[tuple[date, str, str]]:
    """Every (day, kind, name) of a schedule file, all checked before anything is written."""
    if len(text.encode("utf-8")) > MAX_SCHEDULE_BYTES:
        raise InputError(_("the schedule is larger than {limit} bytes", limit=MAX_SCHEDULE_BYTES))
    entries: list[tuple[date, str, str]] = []
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data: Any = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(_("the schedule is not valid JSON: {error}", error=exc.msg)) from exc
        for key, kind in (("holidays", "holiday"), ("workdays", "workday")):
            values = data.get(key, [])
            if not isinstance(values, list):
                raise InputError(_("'{field}' must be a list of days", field=key))
            for value in values:
                day_text, name = (
                    (value, "") if isinstance(value, str) else (value.get("day", ""), value.get("name", ""))
                )
                entries.append((parse_day(str(day_text)), kind, str(name)))
    else:
        for number, line in enumerate(stripped.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(maxsplit=2)
            if len(parts) < 2:
                raise InputError(_("line {line}: write 'YYYY-MM-DD holiday|workday [name]'", line=number))
            entries.append((parse_day(parts[0]), _kind(parts[1]), parts[2] if len(parts) > 2 else ""))
    if not entries:
        raise InputError(_("the schedule has no days"))
    seen: set[date] = set()
    for day, _k, _n in entries:
        if day.year != year:
            raise InputError(_("{day} is not in {year}", day=day.isoformat(), year=year))
        if day in seen:
            raise InputError(_("{day} is listed twice", day=day.isoformat()))
        seen.add(day)
    return entries


def import_schedule(session: Session, engine: Engine, actor: Actor, year: int, text: str) -> Report:
    """Replace the year's entries by the schedule's, then recompute the deadlines it moves."""
    _admin(actor)
    entries = parse_schedule(year, text)
    session.execute(
        delete(CalendarOverride).where(
            CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)
        )
    )
    session.add_all(CalendarOverride(day=d, kind=k, name=n[:100]) for d, k, n in entries)
    _publish(session, actor, year)  # a whole year's schedule: its deadlines are final
    session.flush()
    report = Report(len(entries), clock.recompute(session, engine, year))
    audit.record(session, actor, "calendar.import", target_kind="calendar", target=str(year),
                 after={"days": len(entries)})  # fmt: skip
    return report


def publish_year(session: Session, engine: Engine, actor: Actor, year: int) -> Report:
    """Declare a year's schedule entered in full: its deadlines stop being provisional."""
    _admin(actor)
    if year in LIBRARY_YEARS:
        raise InputError(_("the official schedule of {year} is already known", year=year))
    if not session.scalars(
        select(CalendarOverride.id).where(
            CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)
        )
    ).first():
        raise InputError(_("enter the days of {year} before publishing it", year=year))
    _publish(session, actor, year)
    session.flush()
    report = Report(0, clock.recompute(session, engine, year))
    audit.record(session, actor, "calendar.publish", target_kind="calendar", target=str(year))
    return report


def _publish(session: Session, actor: Actor, year: int) -> None:
    if session.get(CalendarYear, year) is None:
        session.add(CalendarYear(year=year, published_by=actor.username))
