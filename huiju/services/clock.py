"""A case's time limits (时限): when it is due, and the clock that stops while the resident is asked.

Every item carries a statutory (法定) and a committed (承诺) limit, in working or calendar days. They
count from the day the case is submitted; while the case waits for the resident (补正, marked
``pauses_clock`` on the BPMN step) the clock stops, and when the resident answers both due dates
move on by the days the wait took (in the item's unit: a wait over the National Day week costs no
working days). A due date that crosses a year whose official schedule is unknown is computed on
weekends alone and marked provisional, until the schedule is entered (:func:`recompute`).

The process reads the same figures as data, ``deadlines``, for its timers: a reminder the working day
before the committed limit, and an escalation to the street when it passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import CHINA, Deadline, DeadlineUnit, WorkingCalendar
from huiju.models import FINAL, Case, CaseEvent, TimeUnit
from workflows_bpmn.models import HumanTask, HumanTaskStatus, ProcessInstance
from workflows_bpmn.runner import Engine

#: Office hours in China: a limit passes when the office closes on the due day; reminders go out
#: when it opens on the working day before.
OFFICE_OPENS = time(9, 0)
OFFICE_CLOSES = time(17, 30)


class LimitedItem(Protocol):
    """What the clock reads of an item: its limits (an :class:`~huiju.models.Item`, or a summary of one)."""

    @property
    def limit_unit(self) -> TimeUnit: ...
    @property
    def committed_limit(self) -> int: ...
    @property
    def statutory_limit(self) -> int: ...


class ClockedCase(Protocol):
    """What the clock reads of a case to say where it stands (a :class:`~huiju.models.Case`, or a
    summary read without the ORM, as an inbox reads its rows)."""

    @property
    def item(self) -> LimitedItem: ...
    @property
    def submitted_at(self) -> datetime: ...
    @property
    def paused_days(self) -> int: ...
    @property
    def clock_paused_since(self) -> datetime | None: ...
    @property
    def committed_due(self) -> date | None: ...
    @property
    def statutory_due(self) -> date | None: ...
    @property
    def due_provisional(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CaseDeadlines:
    committed: Deadline
    statutory: Deadline

    @property
    def provisional(self) -> bool:
        return self.committed.provisional or self.statutory.provisional


def china_day(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def compute(calendar: WorkingCalendar, item: LimitedItem, start: date, paused_days: int = 0) -> CaseDeadlines:
    unit = cast(DeadlineUnit, item.limit_unit.value)
    return CaseDeadlines(
        committed=calendar.deadline(start, item.committed_limit + paused_days, unit),
        statutory=calendar.deadline(start, item.statutory_limit + paused_days, unit),
    )


def due_at(day: date) -> datetime:
    """The moment a limit due on ``day`` passes."""
    return datetime.combine(day, OFFICE_CLOSES, tzinfo=CHINA)


def process_data(calendar: WorkingCalendar, deadlines: CaseDeadlines) -> dict[str, Any]:
    """The ``deadlines`` variable the process's timers read."""
    committed = deadlines.committed.due
    remind_day = committed - timedelta(days=1)
    while remind_day > date.min and not calendar.is_working_day(remind_day):
        remind_day -= timedelta(days=1)
    return {
        "committed_due": committed.isoformat(),
        "statutory_due": deadlines.statutory.due.isoformat(),
        "remind_at": datetime.combine(remind_day, OFFICE_OPENS, tzinfo=CHINA).isoformat(),
        "escalate_at": due_at(committed).isoformat(),
        "provisional": deadlines.provisional,
    }


def apply(case: Case, deadlines: CaseDeadlines) -> None:
    case.committed_due = deadlines.committed.due
    case.statutory_due = deadlines.statutory.due
    case.due_provisional = deadlines.provisional


def pause(case: Case, now: datetime, step: str | None = None) -> None:
    """Stop the case's clock (idempotent): the resident has been asked for something."""
    if case.clock_paused_since is not None:
        return
    case.clock_paused_since = now
    case.events.append(CaseEvent(kind="clock_paused", step=step, actor="system"))


def paused_for(calendar: WorkingCalendar, case: ClockedCase, now: datetime) -> int:
    """Days of the item's unit the clock has been stopped: the days after the pause up to today."""
    if case.clock_paused_since is None:
        return 0
    start, end = china_day(case.clock_paused_since), china_day(now)
    if case.item.limit_unit.value == "working_days":
        return max(0, calendar.working_days_between(start, end))
    return max(0, (end - start).days)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a case stands against its limits at a moment: the due dates as they would be if the
    clock started again then (a wait for the resident does not count), and whether it is stopped."""

    committed: date
    statutory: date
    provisional: bool
    paused: bool


def standing(calendar: WorkingCalendar, case: ClockedCase, now: datetime) -> Standing:
    waited = paused_for(calendar, case, now)
    paused = case.clock_paused_since is not None
    if case.committed_due is not None and case.statutory_due is not None and waited == 0:
        return Standing(case.committed_due, case.statutory_due, case.due_provisional, paused)
    dates = compute(calendar, case.item, china_day(case.submitted_at), case.paused_days + waited)
    return Standing(dates.committed.due, dates.statutory.due, dates.provisional, paused)


def working_days_taken(calendar: WorkingCalendar, case: Case, until: datetime) -> int:
    """Working days a case took from submission to ``until``, its waits for the resident left out."""
    taken = calendar.working_days_between(china_day(case.submitted_at), china_day(until))
    return max(0, taken - case.paused_days - paused_for(calendar, case, until))


def resume(session: Session, case: Case, now: datetime, step: str | None = None) -> dict[str, Any] | None:
    """Start the clock again; move the due dates on; return the new ``deadlines`` process data.

    ``None`` when the clock was running. The case's ready tasks and its process context take the new
    committed due date at once, so that inboxes show it.
    """
    if case.clock_paused_since is None:
        return None
    calendar = WorkingCalendar.load(session)
    days = paused_for(calendar, case, now)
    case.paused_days += days
    case.clock_paused_since = None
    deadlines = compute(calendar, case.item, china_day(case.submitted_at), case.paused_days)
    apply(case, deadlines)
    case.events.append(
        CaseEvent(kind="clock_resumed", step=step, actor="system", detail=str(days), data={"paused_days": days})
    )
    _retime(session, case)
    return process_data(calendar, deadlines)


def _retime(session: Session, case: Case) -> None:
    if case.committed_due is None or case.process_instance_id is None:
        return
    moment = due_at(case.committed_due)
    instance = session.get(ProcessInstance, case.process_instance_id)
    if instance is not None:
        instance.context = {**instance.context, "due_at": moment.isoformat(), "due_provisional": case.due_provisional}
    for task in session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == case.process_instance_id, HumanTask.status == HumanTaskStatus.READY
        )
    ):
        if task.properties.get("pauses_clock") != "true":  # the resident's step keeps its own limit
            task.due_at = moment


def affected(case: Case, year: int | None) -> bool:
    """Whether a change to ``year``'s schedule may move the case's due dates (``None``: any year)."""
    if year is None or case.due_provisional:
        return True
    start = china_day(case.submitted_at).year
    end = case.statutory_due.year if case.statutory_due else start
    return start <= year <= end + 1  # a pause may have pushed the dates past the one stored


def recompute(session: Session, engine: Engine | None, year: int | None = None) -> int:
    """Recompute the due dates of the open cases a calendar change may move; return how many moved.

    Each moved case's ready tasks and its process (the ``deadlines`` its timers read) follow; a
    reminder or escalation whose time has now passed fires at once.
    """
    calendar = WorkingCalendar.load(session)
    moved = 0
    for case in session.scalars(select(Case).where(Case.status.not_in(FINAL)).order_by(Case.id)):
        if not affected(case, year):
            continue
        deadlines = compute(calendar, case.item, china_day(case.submitted_at), case.paused_days)
        before = (case.committed_due, case.statutory_due, case.due_provisional)
        if before == (deadlines.committed.due, deadlines.statutory.due, deadlines.provisional):
            continue
        apply(case, deadlines)
        _retime(session, case)
        if engine is not None and case.process_instance_id is not None:
            engine.update_data(session, case.process_instance_id, {"deadlines": process_data(calendar, deadlines)})
        case.events.append(
            CaseEvent(kind="deadline_recomputed", actor="system", detail=deadlines.committed.due.isoformat(),
                      data={"committed_due": deadlines.committed.due.isoformat(),
                            "statutory_due": deadlines.statutory.due.isoformat(),
                            "provisional": deadlines.provisional})
        )  # fmt: skip
        moved += 1
    return moved
