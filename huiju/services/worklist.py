"""The officer's worklist (待办): inbox pages with their case, filters, order and time left.

Filtering, ordering and paging happen in the database, one page at a time, in the order of an
index of ``human_task`` (its scope first, then the sort key): the first page of an office with a
million open tasks costs what it costs with ten. Pages are *keyset* pages: a cursor holds the sort
key of the row a page ended on, and the next page starts after it, so that tasks decided in the
meantime neither repeat nor hide a row, and page 50 costs what page 1 does.

Time left is counted in Chinese working days (public holidays and 调休 included, see
:mod:`huiju.calendar`) from today to the case's committed (承诺时限) and statutory (法定时限) due
dates. A row is ``overdue`` past a due date and ``close`` within :data:`CLOSE_DAYS` working days.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from huiju import reference
from huiju.calendar import CHINA, WorkingCalendar
from huiju.db import utcnow
from huiju.errors import InputError
from huiju.i18n import _
from huiju.models import Case, CaseStatus, Item, Resident, TimeUnit
from huiju.services import clock
from huiju.services.actors import Actor
from huiju.services.tasks import scope_tasks
from workflows_bpmn.models import HumanTask, HumanTaskStatus

Urgency = Literal["ok", "close", "overdue", "paused", "none"]
#: ``due``: the task's due date, soonest first (tasks without one last); ``received``: when the task
#: arrived in the inbox.
SORT_KEYS: tuple[str, ...] = ("due", "received")
#: Working days left at or under which a limit shows amber.
CLOSE_DAYS = 2
#: A screenful of rows, the most urgent first; more are a page away.
PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
#: An inbox counts its rows up to this many ("1000+" beyond): a count never scans a whole office.
COUNT_CAP = 1000
#: The longest applicant text searched for (a name or an 18-character ID number).
MAX_APPLICANT_TEXT = 50


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


@dataclass(frozen=True, slots=True)
class ItemSummary:
    code: str
    name: str
    name_en: str | None
    limit_unit: TimeUnit
    committed_limit: int
    statutory_limit: int


@dataclass(frozen=True, slots=True)
class ApplicantSummary:
    name: str
    id_number: str


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """What a row shows of its case and what its time left needs, read as plain rows: a page of
    ORM cases, with their items and applicants, cost about as much as the rest of the page."""

    id: int
    number: str
    status: CaseStatus
    process_instance_id: int | None
    submitted_at: datetime
    paused_days: int
    clock_paused_since: datetime | None
    committed_due: date | None
    statutory_due: date | None
    due_provisional: bool
    item: ItemSummary
    applicant: ApplicantSummary


@dataclass(frozen=True)
class InboxRow:
    task: HumanTask
    case: CaseSummary | None
    committed: TimeLeft
    statutory: TimeLeft

    @property
    def urgency(self) -> Urgency:
        order = ("overdue", "close", "ok", "paused", "none")
        return min(self.committed.urgency, self.statutory.urgency, key=order.index)


@dataclass(frozen=True)
class InboxFilter:
    """What an inbox shows: filters, order, and which page (``after`` or ``before`` a cursor)."""

    item: str | None = None
    status: str | None = None
    applicant: str | None = None
    due_before: date | None = None  # due on or before this day (in China)
    sort: str = "due"
    descending: bool = False
    after: str | None = None
    before: str | None = None
    limit: int = PAGE_SIZE

    def check(self) -> InboxFilter:
        if self.sort not in SORT_KEYS:
            raise InputError(
                _("cannot sort by '{key}'; choose one of: {keys}", key=self.sort, keys=", ".join(SORT_KEYS)),
                parameter="sort",
            )
        if self.status:
            try:
                CaseStatus(self.status)
            except ValueError as exc:
                raise InputError(_("unknown case status '{status}'", status=self.status), parameter="status") from exc
        if self.applicant is not None and len(self.applicant.strip()) > MAX_APPLICANT_TEXT:
            raise InputError(
                _("the applicant to look for is longer than {limit} characters", limit=MAX_APPLICANT_TEXT),
                parameter="applicant",
            )
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InputError(_("a page has between 1 and {limit} tasks", limit=MAX_PAGE_SIZE), parameter="limit")
        if self.after and self.before:
            raise InputError(_("a page starts after one task or ends before one, not both"), parameter="before")
        return self


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    #: Cursors of the next and the previous page (None: there is none).
    next: str | None
    previous: str | None
    #: How many tasks the inbox holds with these filters, counted up to :data:`COUNT_CAP`.
    total: int
    total_capped: bool
    filters: InboxFilter


def today_in_china(now: datetime | None = None) -> date:
    return clock.china_day(now or utcnow())


def time_left(calendar: WorkingCalendar, case: clock.ClockedCase | None, today: date) -> tuple[TimeLeft, TimeLeft]:
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


# -- cursors ----------------------------------------------------------------------------------------

#: A cursor is the sort key of a row: (segment, due, received, id); segment 1 holds the tasks
#: without a due date, which come after all others in either order.
_Key = tuple[int, datetime | None, datetime, str]


def _encode(filters: InboxFilter, task: HumanTask) -> str:
    due = task.due_at.isoformat() if task.due_at is not None and filters.sort == "due" else None
    segment = 1 if filters.sort == "due" and task.due_at is None else 0
    raw = [filters.sort, int(filters.descending), segment, due, task.created_at.isoformat(), task.id]
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(filters: InboxFilter, cursor: str) -> _Key:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        sort, descending, segment, due, received, task_id = raw
        key: _Key = (
            int(segment),
            datetime.fromisoformat(due) if due is not None else None,
            datetime.fromisoformat(received),
            str(task_id),
        )
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InputError(_("the page cursor '{cursor}' is not one Huiju gave", cursor=cursor[:40]),
                         parameter="cursor") from exc  # fmt: skip
    if sort != filters.sort or bool(descending) != filters.descending:
        raise InputError(_("the page cursor belongs to another order; start again from the first page"),
                         parameter="cursor")  # fmt: skip
    if key[0] not in (0, 1) or (key[0] == 0 and filters.sort == "due" and key[1] is None):
        raise InputError(_("the page cursor '{cursor}' is not one Huiju gave", cursor=cursor[:40]), parameter="cursor")
    if any(k is not None and k.tzinfo is None for k in key[1:3]):  # type: ignore[union-attr]
        raise InputError(_("the page cursor '{cursor}' is not one Huiju gave", cursor=cursor[:40]), parameter="cursor")
    return key


def _beyond(columns: Sequence[Any], values: Sequence[Any], descending: bool) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns``, written so that an index on the
    columns serves it as a range: ``a >= x AND (a > x OR (b, c) beyond (y, z))``."""
    strictly: Callable[[Any, Any], ColumnElement[bool]] = operator.lt if descending else operator.gt
    at_least: Callable[[Any, Any], ColumnElement[bool]] = operator.le if descending else operator.ge
    first, value = columns[0], values[0]
    if len(columns) == 1:
        return strictly(first, value)
    return and_(at_least(first, value), or_(strictly(first, value), _beyond(columns[1:], values[1:], descending)))


# -- the query --------------------------------------------------------------------------------------


def _base(session: Session, actor: Actor, filters: InboxFilter) -> Any:
    """The actor's ready tasks with the filters, unordered (scoped as :func:`scope_tasks`)."""
    stmt = scope_tasks(select(HumanTask), actor).where(HumanTask.status == HumanTaskStatus.READY)
    if filters.item or filters.status or (filters.applicant or "").strip():
        stmt = stmt.join(Case, Case.id == HumanTask.case_id)
    if filters.item:
        item_id = session.scalar(select(Item.id).where(Item.code == filters.item))
        if item_id is None:
            raise InputError(_("unknown item '{code}'", code=filters.item), parameter="item")
        stmt = stmt.where(Case.item_id == item_id)
    if filters.status:
        stmt = stmt.where(Case.status == CaseStatus(filters.status))
    applicant = (filters.applicant or "").strip()
    if applicant:
        stmt = stmt.join(Resident, Resident.id == Case.applicant_id).where(
            or_(Resident.name.contains(applicant, autoescape=True), Resident.id_number == applicant.upper())
        )
    if filters.due_before:
        # Due on that day or earlier: before the next day begins in China.
        stmt = stmt.where(HumanTask.due_at < datetime.combine(filters.due_before + timedelta(days=1), time(0), CHINA))
    return stmt


def _segments(filters: InboxFilter, backwards: bool) -> list[tuple[int, list[Any]]]:
    """The ordered runs of one order: (segment, sort columns), in the order they are read."""
    if filters.sort == "received":
        return [(0, [HumanTask.created_at, HumanTask.id])]
    runs: list[tuple[int, list[Any]]] = [
        (0, [HumanTask.due_at, HumanTask.created_at, HumanTask.id]),
        (1, [HumanTask.created_at, HumanTask.id]),
    ]
    return list(reversed(runs)) if backwards else runs


def _fetch(session: Session, base: Any, filters: InboxFilter, cursor: _Key | None, backwards: bool) -> list[HumanTask]:
    """Up to ``limit + 1`` tasks from the cursor on (or, ``backwards``, before it, nearest first)."""
    descending = filters.descending != backwards
    wanted = filters.limit + 1
    found: list[HumanTask] = []
    for segment, columns in _segments(filters, backwards):
        if cursor is not None and (segment < cursor[0] if not backwards else segment > cursor[0]):
            continue  # the cursor lies in a later run
        stmt = base
        if filters.sort == "due":
            stmt = stmt.where(HumanTask.due_at.is_not(None) if segment == 0 else HumanTask.due_at.is_(None))
        if cursor is not None and cursor[0] == segment:
            values = [cursor[1], cursor[2], cursor[3]] if len(columns) == 3 else [cursor[2], cursor[3]]
            stmt = stmt.where(_beyond(columns, values, descending))
        order = [c.desc() if descending else c.asc() for c in columns]
        found += session.scalars(stmt.order_by(*order).limit(wanted - len(found))).all()
        if len(found) >= wanted:
            break
    return found


def inbox_page(
    session: Session, actor: Actor, filters: InboxFilter | None = None, *, today: date | None = None
) -> InboxPage:
    """One page of the actor's ready tasks (scoped as :func:`huiju.services.tasks.scope_tasks`),
    filtered and ordered in the database, with each task's case and time left."""
    filters = (filters or InboxFilter()).check()
    base = _base(session, actor, filters)
    backwards = filters.before is not None
    token = filters.before or filters.after
    cursor = _decode(filters, token) if token else None
    tasks = _fetch(session, base, filters, cursor, backwards)
    more = len(tasks) > filters.limit
    tasks = tasks[: filters.limit]
    if backwards:
        tasks.reverse()
    if backwards:
        next_cursor = _encode(filters, tasks[-1]) if tasks else None
        previous_cursor = _encode(filters, tasks[0]) if tasks and more else None
    else:
        next_cursor = _encode(filters, tasks[-1]) if tasks and more else None
        previous_cursor = _encode(filters, tasks[0]) if tasks and cursor is not None else None
    counted = session.scalar(
        select(func.count()).select_from(base.with_only_columns(HumanTask.id).limit(COUNT_CAP + 1).subquery())
    )
    total = int(counted or 0)
    return InboxPage(
        rows=_rows(session, tasks, today or today_in_china()),
        next=next_cursor,
        previous=previous_cursor,
        total=min(total, COUNT_CAP),
        total_capped=total > COUNT_CAP,
        filters=replace(filters, after=None, before=None),
    )


def _rows(session: Session, tasks: list[HumanTask], today: date) -> list[InboxRow]:
    case_ids = {t.case_id for t in tasks if t.case_id is not None}
    cases = _case_summaries(session, case_ids) if case_ids else {}
    calendar = WorkingCalendar.load(session)
    rows = []
    for task in tasks:
        case = cases.get(task.case_id or -1)
        if case is not None and task.instance_id != case.process_instance_id and task.due_at is not None:
            # Another process about the case (a follow-up of a bad rating): the task's own limit.
            due = task.due_at.astimezone(CHINA).date()
            committed = statutory = TimeLeft(due, calendar.working_days_between(today, due), False)
        else:
            committed, statutory = time_left(calendar, case, today)
        rows.append(InboxRow(task, case, committed, statutory))
    return rows


_SUMMARY = (
    select(
        Case.id, Case.number, Case.status, Case.process_instance_id, Case.submitted_at, Case.paused_days,
        Case.clock_paused_since, Case.committed_due, Case.statutory_due, Case.due_provisional,
        Item.code, Item.name, Item.name_en, Item.limit_unit, Item.committed_limit, Item.statutory_limit,
        Resident.name, Resident.id_number,
    )
    .join(Item, Item.id == Case.item_id)
    .join(Resident, Resident.id == Case.applicant_id)
)  # fmt: skip


def _case_summaries(session: Session, case_ids: set[int]) -> dict[int, CaseSummary]:
    """The rows' cases, each with its item and applicant; an item read once however many rows name it."""
    items: dict[str, ItemSummary] = {}
    found: dict[int, CaseSummary] = {}
    for row in session.execute(_SUMMARY.where(Case.id.in_(case_ids))):
        (case_id, number, status, instance_id, submitted_at, paused_days, paused_since, committed_due,
         statutory_due, provisional, code, name, name_en, unit, committed_limit, statutory_limit,
         applicant_name, id_number) = row  # fmt: skip
        item = items.get(code)
        if item is None:
            item = items[code] = ItemSummary(code, name, name_en, unit, committed_limit, statutory_limit)
        found[case_id] = CaseSummary(
            case_id, number, status, instance_id, submitted_at, paused_days, paused_since, committed_due,
            statutory_due, provisional, item, ApplicantSummary(applicant_name, id_number),
        )  # fmt: skip
    return found


def inbox_rows(
    session: Session, actor: Actor, filters: InboxFilter | None = None, *, today: date | None = None
) -> list[InboxRow]:
    """The rows of the first page (or of the page ``filters`` names)."""
    return inbox_page(session, actor, filters, today=today).rows


@dataclass(frozen=True)
class ItemChoice:
    code: str
    name: str
    name_en: str


def item_choices(session: Session) -> list[ItemChoice]:
    """The active items, for the inbox's item filter: codes and names only (not their forms and texts),
    kept between requests until the catalogue changes (:mod:`huiju.reference`)."""
    return list(reference.cached(session, "item_choices", _read_item_choices))


def _read_item_choices(session: Session) -> tuple[ItemChoice, ...]:
    rows = session.execute(select(Item.code, Item.name, Item.name_en).where(Item.active.is_(True)).order_by(Item.code))
    return tuple(ItemChoice(code, name, name_en) for code, name, name_en in rows)


def time_left_of(session: Session, case: Case, today: date | None = None) -> tuple[TimeLeft, TimeLeft]:
    """(committed, statutory) time left of one case, as on the inbox."""
    return time_left(WorkingCalendar.load(session), case, today or today_in_china())
