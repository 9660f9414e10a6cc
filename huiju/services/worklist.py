"""The officer's worklist (待办): inbox rows with their case, filters, order and time left.

Time left is counted in Chinese working days (public holidays and 调休 included, see
:mod:`huiju.calendar`) from today to the case's committed (承诺时限) and statutory (法定时限) due
dates. A row is ``overdue`` past a due date and ``close`` within :data:`CLOSE_DAYS` working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import CHINA, WorkingCalendar
from huiju.db import utcnow
from huiju.errors import InputError
from huiju.i18n import _
from huiju.models import Case, CaseStatus
from huiju.services import clock
from huiju.services.actors import Actor
from huiju.services.tasks import inbox
from workflows_bpmn.models import HumanTask

Urgency = Literal["ok", "close", "overdue", "paused", "none"]
SortKey = Literal["due", "item", "applicant", "status", "created"]
SORT_KEYS: tuple[str, ...] = ("due", "item", "applicant", "status", "created")
#: Working days left at or under which a limit shows amber.
CLOSE_DAYS = 2


@dataclass(frozen=True)
class TimeLeft:
    due: date | None
    working_days: int | None  # negative: working days overdue
    provisional: bool
    paused: bool = False  # the clock is stopped: the case waits for the resident (补正)

    @property
    def urgency(self) -> Urgency:
        if self.working_days is None:
            return "none"
        if self.paused:
            return "paused"
        if self.working_days < 0:
            return "overdue"
        return "close" if self.working_days <= CLOSE_DAYS else "ok"


@dataclass(frozen=True)
class InboxRow:
    task: HumanTask
    case: Case | None
    committed: TimeLeft
    statutory: TimeLeft

    @property
    def urgency(self) -> Urgency:
        order = ("overdue", "close", "ok", "paused", "none")
        return min(self.committed.urgency, self.statutory.urgency, key=order.index)


@dataclass(frozen=True)
class InboxFilter:
    item: str | None = None
    status: str | None = None
    applicant: str | None = None
    due_before: date | None = None
    sort: str = "due"
    descending: bool = False

    def check(self) -> InboxFilter:
        if self.sort not in SORT_KEYS:
            raise InputError(
                _("cannot sort by '{key}'; choose one of: {keys}", key=self.sort, keys=", ".join(SORT_KEYS))
            )
        if self.status:
            try:
                CaseStatus(self.status)
            except ValueError as exc:
                raise InputError(_("unknown case status '{status}'", status=self.status)) from exc
        return self


def today_in_china(now: datetime | None = None) -> date:
    return clock.china_day(now or utcnow())


def time_left(calendar: WorkingCalendar, case: Case | None, today: date) -> tuple[TimeLeft, TimeLeft]:
    """Working days left against the committed and the statutory limit (negative: overdue); while
    the clock is stopped, against the dates as they would be if it started again today."""
    if case is None:
        none = TimeLeft(None, None, False)
        return none, none
    now = datetime.combine(today, time(12), tzinfo=CHINA)
    at = clock.standing(calendar, case, now)
    return (
        TimeLeft(at.committed, calendar.working_days_between(today, at.committed), at.provisional, at.paused),
        TimeLeft(at.statutory, calendar.working_days_between(today, at.statutory), at.provisional, at.paused),
    )


def inbox_rows(
    session: Session, actor: Actor, filters: InboxFilter | None = None, *, today: date | None = None
) -> list[InboxRow]:
    """The actor's ready tasks (scoped as :func:`huiju.services.tasks.inbox`), filtered and ordered."""
    filters = (filters or InboxFilter()).check()
    tasks = inbox(session, actor)
    case_ids = {t.case_id for t in tasks if t.case_id is not None}
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    calendar = WorkingCalendar.load(session)
    today = today or today_in_china()
    rows = []
    for task in tasks:
        case = cases.get(task.case_id or -1)
        if filters.item and (case is None or case.item.code != filters.item):
            continue
        if filters.status and (case is None or case.status.value != filters.status):
            continue
        if filters.applicant and (case is None or filters.applicant.strip() not in case.applicant.name):
            continue
        if case is not None and task.instance_id != case.process_instance_id and task.due_at is not None:
            # Another process about the case (a follow-up of a bad rating): the task's own limit.
            due = task.due_at.astimezone(CHINA).date()
            committed = statutory = TimeLeft(due, calendar.working_days_between(today, due), False)
        else:
            committed, statutory = time_left(calendar, case, today)
        if filters.due_before and (committed.due is None or committed.due > filters.due_before):
            continue
        rows.append(InboxRow(task, case, committed, statutory))
    rows.sort(key=lambda r: _sort_key(r, filters.sort), reverse=filters.descending)
    return rows


def _sort_key(row: InboxRow, key: str) -> tuple[object, ...]:
    case = row.case
    if key == "item":
        return (case.item.code if case else "", row.task.created_at)
    if key == "applicant":
        return (case.applicant.name if case else "", row.task.created_at)
    if key == "status":
        return (case.status.value if case else "", row.task.created_at)
    if key == "created":
        return (row.task.created_at,)
    return (row.committed.due or date.max, row.task.created_at)


def time_left_of(session: Session, case: Case, today: date | None = None) -> tuple[TimeLeft, TimeLeft]:
    """(committed, statutory) time left of one case, as on the inbox."""
    return time_left(WorkingCalendar.load(session), case, today or today_in_china())
