"""The dashboard (统计) for the cases the reader may see, over a range of days (Beijing dates):

- cases received (submitted in the range), concluded, overdue and the average handling time in
  working days, by item and by community;
- 好差评 (the State Council's "good and bad reviews" of government services, 国办发〔2019〕51号):
  ratings given in the range, the satisfaction rate — the share of 非常满意, 满意 and 基本满意 (levels
  5 to 3) — by item and by community, and the share of bad ratings (不满意, 非常不满意) followed up on
  time: the follow-up task (差评回访) decided by its due date. A bad rating whose follow-up is still
  open and not yet due counts in neither part of that share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiju.calendar import CHINA, WorkingCalendar
from huiju.db import utcnow
from huiju.errors import InputError
from huiju.i18n import _
from huiju.models import BAD_RATING_LEVELS, FINAL, Case, CaseStatus, Rating
from huiju.services import clock
from huiju.services.actors import Actor
from huiju.services.cases import visible_cases
from huiju.services.worklist import today_in_china
from workflows_bpmn.models import HumanTask, HumanTaskStatus

#: Levels that count as satisfied (好评): 非常满意, 满意, 基本满意.
SATISFIED_LEVELS = frozenset({5, 4, 3})
#: The range shown when none is asked for: the last 90 days, today included.
DEFAULT_DAYS = 90
#: The longest range asked for at once.
MAX_DAYS = 3 * 366


@dataclass
class Tally:
    key: str
    name: str
    name_en: str = ""  # in English: an item's English name; the name itself for a community

    def __post_init__(self) -> None:
        self.name_en = self.name_en or self.name

    received: int = 0
    concluded: int = 0
    overdue: int = 0
    _days: list[int] = field(default_factory=list, repr=False)

    @property
    def average_days(self) -> float | None:
        """Average working days from submission to conclusion of the concluded cases."""
        return round(sum(self._days) / len(self._days), 1) if self._days else None


@dataclass
class Satisfaction:
    """The 好差评 of one item or community (or of everything: key ``*``)."""

    key: str
    name: str
    name_en: str = ""  # in English: an item's English name; the name itself for a community

    def __post_init__(self) -> None:
        self.name_en = self.name_en or self.name

    rated: int = 0
    satisfied: int = 0
    bad: int = 0
    followed_up: int = 0  # bad ratings whose follow-up was decided
    on_time: int = 0  # ... by its due date
    due: int = 0  # bad ratings whose follow-up was decided or is overdue

    @property
    def rate(self) -> float | None:
        """The satisfaction rate in percent (one decimal); None without ratings."""
        return round(100 * self.satisfied / self.rated, 1) if self.rated else None

    @property
    def on_time_share(self) -> float | None:
        """The share of bad ratings followed up on time, in percent, of those due by now."""
        return round(100 * self.on_time / self.due, 1) if self.due else None


@dataclass(frozen=True)
class Figures:
    total: Tally
    by_item: list[Tally]
    by_community: list[Tally]
    start: date | None = None
    end: date | None = None
    ratings: Satisfaction = field(default_factory=lambda: Satisfaction("*", "*"))
    ratings_by_item: list[Satisfaction] = field(default_factory=list)
    ratings_by_community: list[Satisfaction] = field(default_factory=list)


def date_range(start: date | None, end: date | None, today: date | None = None) -> tuple[date, date]:
    """The range a reader asks for, completed: the last :data:`DEFAULT_DAYS` days by default."""
    today = today or today_in_china()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InputError(_("the range starts after it ends: {start} is after {end}", start=start, end=end),
                         field="start")  # fmt: skip
    if (end - start).days >= MAX_DAYS:
        raise InputError(_("choose a range of at most {days} days", days=MAX_DAYS), field="start")
    return start, end


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    lower = datetime.combine(start, time(0), tzinfo=CHINA) if start else None
    upper = datetime.combine(end + timedelta(days=1), time(0), tzinfo=CHINA) if end else None
    return lower, upper


def figures(
    session: Session, actor: Actor, *, start: date | None = None, end: date | None = None, today: date | None = None
) -> Figures:
    """The figures of the cases submitted and the ratings given from ``start`` to ``end`` (Beijing dates,
    both included; no bound: all)."""
    today = today or today_in_china()
    calendar = WorkingCalendar.load(session)
    lower, upper = _bounds(start, end)
    total = Tally("*", "*")
    items: dict[str, Tally] = {}
    communities: dict[str, Tally] = {}
    stmt = visible_cases(session, actor)
    if lower is not None:
        stmt = stmt.where(Case.submitted_at >= lower)
    if upper is not None:
        stmt = stmt.where(Case.submitted_at < upper)
    for case in session.scalars(stmt):
        if case.status is CaseStatus.WITHDRAWN:
            continue
        concluded = today_in_china(case.concluded_at) if case.concluded_at else None
        done = case.status in FINAL and concluded is not None
        moment = case.concluded_at if done and case.concluded_at else datetime.combine(today, time(12), tzinfo=CHINA)
        committed = clock.standing(calendar, case, moment).committed  # a wait for the resident does not count
        overdue = (concluded if done and concluded else today) > committed
        days = clock.working_days_taken(calendar, case, case.concluded_at) if done and case.concluded_at else None
        item = items.setdefault(case.item.code, Tally(case.item.code, case.item.name, case.item.name_en or ""))
        community = communities.setdefault(case.community.code, Tally(case.community.code, case.community.name))
        for tally in (total, item, community):
            tally.received += 1
            tally.concluded += int(done)
            tally.overdue += int(overdue)
            if days is not None:
                tally._days.append(days)
    ratings, by_item, by_community = _satisfaction(session, actor, lower, upper)
    return Figures(
        total, sorted(items.values(), key=lambda t: t.key), sorted(communities.values(), key=lambda t: t.key),
        start, end, ratings, by_item, by_community,
    )  # fmt: skip


def _follow_up(tasks: list[HumanTask], now: datetime) -> tuple[bool, bool, bool]:
    """(decided, decided on time, due by now) of a bad rating's follow-up tasks."""
    done = [t for t in tasks if t.status is HumanTaskStatus.COMPLETED and t.completed_at is not None]
    if done:
        on_time = all(t.due_at is None or t.completed_at <= t.due_at for t in done if t.completed_at is not None)
        return True, on_time, True
    overdue = any(t.status is HumanTaskStatus.READY and t.due_at is not None and t.due_at < now for t in tasks)
    return False, False, overdue


def _satisfaction(
    session: Session, actor: Actor, lower: datetime | None, upper: datetime | None
) -> tuple[Satisfaction, list[Satisfaction], list[Satisfaction]]:
    visible = visible_cases(session, actor).with_only_columns(Case.id).scalar_subquery()
    stmt = select(Rating).where(Rating.case_id.in_(visible))
    if lower is not None:
        stmt = stmt.where(Rating.rated_at >= lower)
    if upper is not None:
        stmt = stmt.where(Rating.rated_at < upper)
    ratings = list(session.scalars(stmt.order_by(Rating.id)))
    follow_ups = [r.follow_up_instance_id for r in ratings if r.follow_up_instance_id is not None]
    tasks: dict[int, list[HumanTask]] = {}
    if follow_ups:
        for task in session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(follow_ups))):
            tasks.setdefault(task.instance_id, []).append(task)
    now = utcnow()
    total = Satisfaction("*", "*")
    items: dict[str, Satisfaction] = {}
    communities: dict[str, Satisfaction] = {}
    for rating in ratings:
        case = rating.case
        item = items.setdefault(case.item.code, Satisfaction(case.item.code, case.item.name, case.item.name_en or ""))
        community = communities.setdefault(case.community.code, Satisfaction(case.community.code, case.community.name))
        bad = rating.level in BAD_RATING_LEVELS
        decided, on_time, due = (
            _follow_up(tasks.get(rating.follow_up_instance_id or -1, []), now) if bad else (False, False, False)
        )
        for tally in (total, item, community):
            tally.rated += 1
            tally.satisfied += int(rating.level in SATISFIED_LEVELS)
            tally.bad += int(bad)
            tally.followed_up += int(decided)
            tally.on_time += int(on_time)
            tally.due += int(due)
    return (
        total,
        sorted(items.values(), key=lambda t: t.key),
        sorted(communities.values(), key=lambda t: t.key),
    )
