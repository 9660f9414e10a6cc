"""The dashboard (统计): cases received, concluded, overdue and the average handling time in
working days, by item and by community, for the cases the reader may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy.orm import Session

from huiju.calendar import CHINA, WorkingCalendar
from huiju.models import FINAL, CaseStatus
from huiju.services import clock
from huiju.services.actors import Actor
from huiju.services.cases import visible_cases
from huiju.services.worklist import today_in_china


@dataclass
class Tally:
    key: str
    name: str
    received: int = 0
    concluded: int = 0
    overdue: int = 0
    _days: list[int] = field(default_factory=list, repr=False)

    @property
    def average_days(self) -> float | None:
        """Average working days from submission to conclusion of the concluded cases."""
        return round(sum(self._days) / len(self._days), 1) if self._days else None


@dataclass(frozen=True)
class Figures:
    total: Tally
    by_item: list[Tally]
    by_community: list[Tally]


def figures(session: Session, actor: Actor, *, today: date | None = None) -> Figures:
    today = today or today_in_china()
    calendar = WorkingCalendar.load(session)
    total = Tally("*", "*")
    items: dict[str, Tally] = {}
    communities: dict[str, Tally] = {}
    for case in session.scalars(visible_cases(session, actor)):
        if case.status is CaseStatus.WITHDRAWN:
            continue
        concluded = today_in_china(case.concluded_at) if case.concluded_at else None
        done = case.status in FINAL and concluded is not None
        moment = case.concluded_at if done and case.concluded_at else datetime.combine(today, time(12), tzinfo=CHINA)
        committed = clock.standing(calendar, case, moment).committed  # a wait for the resident does not count
        overdue = (concluded if done and concluded else today) > committed
        days = clock.working_days_taken(calendar, case, case.concluded_at) if done and case.concluded_at else None
        item = items.setdefault(case.item.code, Tally(case.item.code, case.item.name))
        community = communities.setdefault(case.community.code, Tally(case.community.code, case.community.name))
        for tally in (total, item, community):
            tally.received += 1
            tally.concluded += int(done)
            tally.overdue += int(overdue)
            if days is not None:
                tally._days.append(days)
    return Figures(
        total, sorted(items.values(), key=lambda t: t.key), sorted(communities.values(), key=lambda t: t.key)
    )
