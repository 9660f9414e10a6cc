"""Chinese working days: public holidays and adjusted working weekends (调休).

The official schedule is the yearly notice of the General Office of the State Council (国务院办公厅关于
某年部分节假日安排的通知). The ``holidays`` library carries those notices for the years in
:data:`LIBRARY_YEARS` (2001–2026 with ``holidays`` 0.109); each next year is published late in the
year before, so the administrator enters it in the :class:`CalendarOverride` table until the library
catches up. Overrides always win over the library.

For a year that neither the library nor the administrator knows, only Saturdays and Sundays are rest
days and every deadline that crosses it is marked *provisional*. When entering a year the library does
not know, enter the whole schedule: every weekday rest day (``holiday``, statutory days included) and
every adjusted working weekend day (``workday``). Days entered count at once; the year becomes
"known" (its deadlines final) when it is published (:class:`CalendarYear`), which importing a whole
year's schedule does.

:class:`WorkingCalendar` is pure: it is built from a list of overrides (``WorkingCalendar.load``
reads them from the table) and caches one sorted array of working days per year, so that
``add_working_days`` over a whole year is a couple of binary searches.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import MAXYEAR, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, Protocol, get_args
from zoneinfo import ZoneInfo

from holidays.countries.china import China, ChinaStaticHolidays
from sqlalchemy import CheckConstraint, Date, Integer, String, literal, select
from sqlalchemy.orm import Mapped, Session, mapped_column, validates

from huiju import reference
from huiju.db import Base, UTCDateTime, utcnow
from huiju.errors import InputError
from huiju.i18n import _

#: China Standard Time (UTC+8, no daylight saving): the one zone in which days, deadlines and the
#: times shown to people are read. Every module takes it from here.
CHINA = ZoneInfo("Asia/Shanghai")

OverrideKind = Literal["holiday", "workday"]
DeadlineUnit = Literal["working_days", "calendar_days"]
OVERRIDE_KINDS: tuple[str, ...] = get_args(OverrideKind)
DEADLINE_UNITS: tuple[str, ...] = get_args(DeadlineUnit)

#: Years for which the installed ``holidays`` library carries the State Council's notice (the
#: years with adjusted days off / working weekends in its China data).
LIBRARY_YEARS: frozenset[int] = frozenset(getattr(ChinaStaticHolidays, "special_public_holidays", {}))

_SATURDAY = 5


class CalendarOverride(Base):
    """One day of the official schedule entered by the administrator; it wins over the library."""

    __tablename__ = "calendar_override"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="kind"), reference.table_info())

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("kind")
    def _check_kind(self, _key: str, value: str) -> str:
        return _check_override_kind(value)

    def __repr__(self) -> str:
        return f"CalendarOverride({self.day.isoformat()}, {self.kind!r}, {self.name!r})"


class CalendarYear(Base):
    """A year whose official schedule the administrator has entered in full (published, 已发布).

    Days entered one by one count at once, but the year's deadlines stay provisional until it is
    published (importing a whole year's schedule publishes it).
    """

    __tablename__ = "calendar_year"
    __table_args__ = reference.table_info()

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OverrideLike(Protocol):
    """What :class:`WorkingCalendar` reads from an override (a row or an :class:`Override`)."""

    @property
    def day(self) -> date: ...

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Override:
    """A session-free override, for building a calendar in pure code and tests."""

    day: date
    kind: OverrideKind
    name: str = ""


@dataclass(frozen=True, slots=True)
class Deadline:
    """A computed due date; ``provisional`` when a year crossed has no known official schedule."""

    due: date
    provisional: bool
    unknown_years: tuple[int, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class _Year:
    working: tuple[int, ...]  # sorted ordinals of the year's working days
    working_set: frozenset[int]


def _check_override_kind(value: str) -> str:
    if value not in OVERRIDE_KINDS:
        raise InputError(_("calendar override kind must be 'holiday' or 'workday', not {kind}", kind=repr(value)))
    return value


def _as_date(value: date, what: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{what} must be a datetime.date (a local date in China), not {type(value).__name__}")
    return value


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise InputError(_("number of days must be an integer, not {value}", value=repr(n)))
    if n < 0:
        raise InputError(_("number of days must not be negative, got {value}", value=n))


@lru_cache(maxsize=64)
def _library_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(weekday rest days, weekend working days) of ``year`` from the library's official data."""
    # The neighbouring years are populated too: a notice may move a day across New Year.
    cn = China(years=[y for y in (year - 1, year, year + 1) if 1 <= y <= MAXYEAR])  # type: ignore[no-untyped-call]
    rest = frozenset(d for d in cn if d.year == year and d.weekday() < _SATURDAY)
    workdays = frozenset(d for d in cn.weekend_workdays if d.year == year and d.weekday() >= _SATURDAY)
    return rest, workdays


#: The overrides and published years in one statement (a year's row has no day, a day's no year).
_CALENDAR_ROWS = select(CalendarOverride.day, CalendarOverride.kind, literal(None, Integer).label("year")).union_all(
    select(literal(None, Date), literal(None, String), CalendarYear.year)
)
#: Calendars built in this process, by the rows they were built from (the latest few).
_BUILT: OrderedDict[tuple[tuple[Any, ...], ...], WorkingCalendar] = OrderedDict()
_BUILT_SIZE = 4
_BUILT_LOCK = threading.Lock()


class WorkingCalendar:
    """Working-day arithmetic on the State Council schedule, the library and the overrides."""

    def __init__(
        self,
        overrides: Iterable[OverrideLike] = (),
        *,
        use_library: bool = True,
        published_years: Iterable[int] | None = None,
    ) -> None:
        self._overrides: dict[date, bool] = {}  # day -> is a working day
        for override in overrides:
            day = _as_date(override.day, "override day")
            working = _check_override_kind(override.kind) == "workday"
            if self._overrides.get(day, working) != working:
                raise InputError(_("conflicting calendar overrides for {day}", day=day.isoformat()))
            self._overrides[day] = working
        # Without a list of published years (pure code, tests), a year with overrides is known.
        self._override_years = (
            frozenset(d.year for d in self._overrides) if published_years is None else frozenset(published_years)
        )
        self._library_years = LIBRARY_YEARS if use_library else frozenset()
        self._years: dict[int, _Year] = {}

    @classmethod
    def load(cls, session: Session) -> WorkingCalendar:
        """A calendar with every row of the ``calendar_override`` table; known are the library's years
        and the published ones (``calendar_year``).

        Both tables are read in one statement, then kept between transactions
        (:mod:`huiju.reference`: an administrator's change, here or in another process, makes the
        next load read them again); a calendar is shared by the loads that read the same rows, since
        building a year's working days costs more than reading them.
        """
        return reference.cached(session, "calendar", cls._read)

    @classmethod
    def _read(cls, session: Session) -> WorkingCalendar:
        rows: tuple[tuple[Any, ...], ...] = tuple(tuple(row) for row in session.execute(_CALENDAR_ROWS))
        with _BUILT_LOCK:
            built = _BUILT.get(rows)
            if built is not None:
                _BUILT.move_to_end(rows)
                return built
        overrides = [Override(day, kind) for day, kind, year in rows if year is None]
        built = cls(overrides, published_years=[year for _day, _kind, year in rows if year is not None])
        with _BUILT_LOCK:
            _BUILT[rows] = built
            while len(_BUILT) > _BUILT_SIZE:
                _BUILT.popitem(last=False)
        return built

    # -- per-year data -------------------------------------------------------------------------

    def known_year(self, year: int) -> bool:
        """True when the official schedule of ``year`` is known (library data, or published)."""
        return year in self._library_years or year in self._override_years

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        if not 1 <= year <= MAXYEAR:
            raise InputError(_("date out of the supported range (year {year})", year=year))
        if year in self._library_years:
            rest, workdays = _library_year(year)
        else:
            rest, workdays = frozenset(), frozenset()
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        working: list[int] = []
        for ordinal in range(first, last + 1):
            day = date.fromordinal(ordinal)
            is_working = self._overrides.get(day)
            if is_working is None:
                if day.weekday() >= _SATURDAY:
                    is_working = day in workdays
                else:
                    is_working = day not in rest
            if is_working:
                working.append(ordinal)
        data = _Year(tuple(working), frozenset(working))
        self._years[year] = data
        return data

    # -- queries ---------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        day = _as_date(day, "day")
        return day.toordinal() in self._year(day.year).working_set

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself is never counted)."""
        start = _as_date(start, "start")
        _check_count(n)
        if n == 0:
            return start
        if n > 366 * (MAXYEAR - start.year + 1):
            raise InputError(
                _("date out of the supported range ({start} + {days} working days)", start=start.isoformat(), days=n)
            )
        year = start.year
        data = self._year(year)
        index = bisect_right(data.working, start.toordinal())
        remaining = n
        while True:
            available = len(data.working) - index
            if remaining <= available:
                return date.fromordinal(data.working[index + remaining - 1])
            remaining -= available
            year += 1
            data = self._year(year)
            index = 0

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end < start``.

        ``working_days_between(s, add_working_days(s, n)) == n`` for every ``n >= 0``.
        """
        start = _as_date(start, "start")
        end = _as_date(end, "end")
        if end < start:
            return -self.working_days_between(end, start)
        first = self._year(start.year)
        after_start = bisect_right(first.working, start.toordinal())
        if end.year == start.year:
            return bisect_right(first.working, end.toordinal()) - after_start
        count = len(first.working) - after_start
        count += sum(len(self._year(y).working) for y in range(start.year + 1, end.year))
        return count + bisect_right(self._year(end.year).working, end.toordinal())

    def add_calendar_days(self, start: date, n: int) -> date:
        start = _as_date(start, "start")
        _check_count(n)
        try:
            return start + timedelta(days=n)
        except OverflowError as exc:
            raise InputError(
                _("date out of the supported range ({start} + {days} days)", start=start.isoformat(), days=n)
            ) from exc

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        day = _as_date(day, "day")
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    def deadline(
        self, start: date, n: int, unit: DeadlineUnit = "working_days", *, roll_to_working_day: bool = True
    ) -> Deadline:
        """The due date ``n`` working or calendar days after ``start``.

        For calendar days, a due date on a rest day moves to the next working day (民法典 第二百零三条:
        a period whose last day is a statutory rest day ends on the day after the rest), unless
        ``roll_to_working_day`` is false.
        """
        start = _as_date(start, "start")
        if unit == "working_days":
            due = self.add_working_days(start, n)
        elif unit == "calendar_days":
            due = self.add_calendar_days(start, n)
            if roll_to_working_day:
                due = self.next_working_day(due)
        else:
            raise InputError(
                _("deadline unit must be one of {units}, not {unit}", units=", ".join(DEADLINE_UNITS), unit=repr(unit))
            )
        unknown = tuple(y for y in range(start.year, due.year + 1) if not self.known_year(y))
        return Deadline(due=due, provisional=bool(unknown), unknown_years=unknown)


# -- waits for a partner (回调等候): days are working days, the time part is elapsed time -------------

_WAIT = re.compile(r"P(?:(?P<days>\d+)D)?(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?")


@dataclass(frozen=True)
class Wait:
    """How long to wait for a partner before asking: ``P1D`` is one working day, ``PT30M`` half an
    hour of elapsed time, ``P1DT2H`` a working day and two hours (an ISO 8601 duration, days read as
    Chinese working days, as the time limits of government service are counted)."""

    working_days: int
    elapsed: timedelta

    @classmethod
    def parse(cls, text: str) -> Wait:
        match = _WAIT.fullmatch(text.strip().upper())
        if match is None or text.strip().upper() in ("P", "PT"):
            raise InputError(_("not a wait such as P1D or PT30M: {value}", value=repr(text)))
        parts = {name: int(value) for name, value in match.groupdict().items() if value is not None}
        wait = cls(
            parts.get("days", 0),
            timedelta(hours=parts.get("hours", 0), minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0)),
        )
        if wait.working_days == 0 and wait.elapsed <= timedelta(0):
            raise InputError(_("a wait must be longer than nothing: {value}", value=repr(text)))
        return wait

    def after(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        """When the wait that starts at ``start`` (offset-aware) ends: the same time of day, so many
        working days later (in China), plus the elapsed part."""
        if start.tzinfo is None:
            raise InputError(_("a wait starts at a time with a time zone"))
        moment = start.astimezone(CHINA)
        if self.working_days:
            day = calendar.add_working_days(moment.date(), self.working_days)
            moment = datetime.combine(day, moment.timetz())
        return moment + self.elapsed
