"""Working-day arithmetic, checked against the State Council notices written out by hand.

2025: 国办发明电〔2024〕12号; 2026: 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from huiju import calendar as cal
from huiju.calendar import CalendarOverride, CalendarYear, Deadline, Override, WorkingCalendar
from huiju.db import Database
from huiju.errors import InputError


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def wc() -> WorkingCalendar:
    return WorkingCalendar()


# -- the official schedules --------------------------------------------------------------------


def test_library_covers_2025_and_2026_but_not_2027(wc: WorkingCalendar) -> None:
    assert {2001, 2025, 2026} <= cal.LIBRARY_YEARS
    # holidays 0.109 stops at 2026; when the library learns 2027, move the provisional tests on.
    assert 2027 not in cal.LIBRARY_YEARS
    assert wc.known_year(2025) and wc.known_year(2026)
    assert not wc.known_year(2027)


def test_spring_festival_2025(wc: WorkingCalendar) -> None:
    # 春节：1月28日（除夕）至2月4日放假调休，共8天。1月26日（周日）、2月8日（周六）上班。
    for d in days(date(2025, 1, 28), date(2025, 2, 4)):
        assert not wc.is_working_day(d), d
    assert wc.is_working_day(date(2025, 1, 26))  # Sunday
    assert wc.is_working_day(date(2025, 2, 8))  # Saturday
    assert wc.is_working_day(date(2025, 1, 27))
    assert wc.is_working_day(date(2025, 2, 5))
    assert not wc.is_working_day(date(2025, 1, 25))  # an ordinary Saturday
    assert not wc.is_working_day(date(2025, 2, 9))  # an ordinary Sunday


def test_national_day_2025(wc: WorkingCalendar) -> None:
    # 国庆节、中秋节：10月1日至8日放假调休，共8天。9月28日（周日）、10月11日（周六）上班。
    for d in days(date(2025, 10, 1), date(2025, 10, 8)):
        assert not wc.is_working_day(d), d
    assert wc.is_working_day(date(2025, 9, 28))  # Sunday
    assert wc.is_working_day(date(2025, 10, 11))  # Saturday
    assert wc.is_working_day(date(2025, 9, 30))
    assert wc.is_working_day(date(2025, 10, 9))


def test_spring_festival_2026(wc: WorkingCalendar) -> None:
    # 春节：2月15日（周日）至23日（周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。
    for d in days(date(2026, 2, 15), date(2026, 2, 23)):
        assert not wc.is_working_day(d), d
    assert wc.is_working_day(date(2026, 2, 13))
    assert wc.is_working_day(date(2026, 2, 14))  # Saturday
    assert wc.is_working_day(date(2026, 2, 24))
    assert wc.is_working_day(date(2026, 2, 28))  # Saturday
    assert not wc.is_working_day(date(2026, 3, 1))  # an ordinary Sunday


def test_national_day_and_mid_autumn_2026(wc: WorkingCalendar) -> None:
    # 中秋节：9月25日（周五）至27日（周日）放假。
    # 国庆节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。
    for d in days(date(2026, 9, 25), date(2026, 9, 27)) + days(date(2026, 10, 1), date(2026, 10, 7)):
        assert not wc.is_working_day(d), d
    assert wc.is_working_day(date(2026, 9, 20))  # Sunday
    assert wc.is_working_day(date(2026, 10, 10))  # Saturday
    assert wc.is_working_day(date(2026, 9, 30))
    assert wc.is_working_day(date(2026, 10, 8))


def test_new_year_2026_working_sunday(wc: WorkingCalendar) -> None:
    # 元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
    assert [wc.is_working_day(d) for d in days(date(2026, 1, 1), date(2026, 1, 5))] == [
        False,
        False,
        False,
        True,
        True,
    ]


# -- arithmetic --------------------------------------------------------------------------------


def test_add_working_days_over_national_day_2025(wc: WorkingCalendar) -> None:
    assert wc.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert wc.add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)  # the working Saturday
    assert wc.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # the working Sunday
    assert wc.add_working_days(date(2025, 10, 3), 1) == date(2025, 10, 9)  # from inside the holiday


def test_add_working_days_over_spring_festival_2025(wc: WorkingCalendar) -> None:
    assert wc.add_working_days(date(2025, 1, 24), 1) == date(2025, 1, 26)
    assert wc.add_working_days(date(2025, 1, 24), 2) == date(2025, 1, 27)
    assert wc.add_working_days(date(2025, 1, 24), 3) == date(2025, 2, 5)


def test_add_working_days_across_new_year(wc: WorkingCalendar) -> None:
    # 2025-12-31 (Wed) -> 1, 2, 3 January 2026 off, Sunday 4 January 2026 worked.
    assert wc.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 4)
    assert wc.add_working_days(date(2025, 12, 30), 2) == date(2026, 1, 4)


def test_add_working_days_zero_and_negative(wc: WorkingCalendar) -> None:
    assert wc.add_working_days(date(2025, 10, 1), 0) == date(2025, 10, 1)  # even on a holiday
    with pytest.raises(InputError, match="must not be negative"):
        wc.add_working_days(date(2025, 10, 1), -1)
    with pytest.raises(InputError):
        wc.add_calendar_days(date(2025, 10, 1), -1)


def test_dates_not_datetimes(wc: WorkingCalendar) -> None:
    with pytest.raises(TypeError, match="datetime.date"):
        wc.is_working_day(datetime(2025, 10, 1, 12, 0))  # type: ignore[arg-type]


def test_working_days_in_whole_years(wc: WorkingCalendar) -> None:
    # Counted by hand from the notices:
    # 2025: 365 days - 104 weekend days - 18 weekday rest days (1 Jan; 28-31 Jan, 3-4 Feb; 4 Apr;
    #       1, 2, 5 May; 2 Jun; 1-3, 6-8 Oct) + 5 working weekend days (26 Jan, 8 Feb, 27 Apr,
    #       28 Sep, 11 Oct) = 248.
    # 2026: 365 - 104 - 19 (1-2 Jan; 16-20, 23 Feb; 6 Apr; 1, 4, 5 May; 19 Jun; 25 Sep;
    #       1, 2, 5-7 Oct) + 6 (4 Jan, 14 and 28 Feb, 9 May, 20 Sep, 10 Oct) = 248.
    assert wc.working_days_between(date(2024, 12, 31), date(2025, 12, 31)) == 248
    assert wc.working_days_between(date(2025, 12, 31), date(2026, 12, 31)) == 248


def test_working_days_between(wc: WorkingCalendar) -> None:
    assert wc.working_days_between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert wc.working_days_between(date(2025, 9, 30), date(2025, 10, 8)) == 0
    assert wc.working_days_between(date(2025, 10, 9), date(2025, 9, 30)) == -1
    assert wc.working_days_between(date(2025, 9, 30), date(2025, 9, 30)) == 0
    start = date(2025, 1, 1)
    for n in (1, 5, 17, 60, 249, 250, 251, 400, 1000):
        assert wc.working_days_between(start, wc.add_working_days(start, n)) == n


def test_add_calendar_days(wc: WorkingCalendar) -> None:
    assert wc.add_calendar_days(date(2025, 1, 1), 30) == date(2025, 1, 31)
    assert wc.add_calendar_days(date(2025, 1, 1), 0) == date(2025, 1, 1)


# -- deadlines ---------------------------------------------------------------------------------


def test_deadline_in_known_years_is_final(wc: WorkingCalendar) -> None:
    assert wc.deadline(date(2025, 9, 30), 1) == Deadline(date(2025, 10, 9), provisional=False)
    assert wc.deadline(date(2025, 12, 31), 1, "working_days") == Deadline(date(2026, 1, 4), False)


def test_calendar_day_deadline_ending_on_a_rest_day_moves_to_the_next_working_day(
    wc: WorkingCalendar,
) -> None:
    assert wc.deadline(date(2025, 9, 26), 5, "calendar_days").due == date(2025, 10, 9)
    assert wc.deadline(date(2025, 9, 26), 5, "calendar_days", roll_to_working_day=False).due == date(2025, 10, 1)
    assert wc.deadline(date(2025, 9, 1), 10, "calendar_days").due == date(2025, 9, 11)


def test_unknown_unit(wc: WorkingCalendar) -> None:
    with pytest.raises(InputError, match="unit"):
        wc.deadline(date(2025, 1, 1), 1, "hours")  # type: ignore[arg-type]


def test_deadline_in_2027_without_overrides_is_provisional_weekends_only(wc: WorkingCalendar) -> None:
    # Monday 2026-12-28 + 5 working days: 29, 30, 31 December, Friday 1 January 2027 (New Year's
    # Day, but 2027's schedule is unknown so only weekends rest), Monday 4 January.
    d = wc.deadline(date(2026, 12, 28), 5)
    assert d == Deadline(date(2027, 1, 4), provisional=True)
    assert d.unknown_years == (2027,)
    # Wholly in 2027: 1 October 2027 is a Friday and counts as a working day.
    assert wc.deadline(date(2027, 9, 30), 1) == Deadline(date(2027, 10, 1), provisional=True)


# A hypothetical 2027 schedule, as an administrator would enter it (not the real notice).
OVERRIDES_2027 = [
    Override(date(2027, 1, 1), "holiday", "元旦"),
    *(Override(d, "holiday", "国庆节") for d in days(date(2027, 10, 1), date(2027, 10, 7)) if d.weekday() < 5),
    Override(date(2027, 9, 26), "workday", "国庆节调休"),  # a Sunday
    Override(date(2027, 10, 9), "workday", "国庆节调休"),  # a Saturday
]


def test_overrides_for_2027_make_deadlines_final_and_change_them() -> None:
    wc = WorkingCalendar(OVERRIDES_2027)
    assert wc.known_year(2027)
    assert wc.deadline(date(2026, 12, 28), 5) == Deadline(date(2027, 1, 5), provisional=False)
    assert wc.deadline(date(2027, 9, 30), 1) == Deadline(date(2027, 10, 8), provisional=False)
    assert wc.add_working_days(date(2027, 9, 24), 1) == date(2027, 9, 26)
    assert wc.add_working_days(date(2027, 10, 8), 1) == date(2027, 10, 9)


def test_overrides_win_over_the_library() -> None:
    wc = WorkingCalendar([Override(date(2025, 10, 8), "workday"), Override(date(2025, 10, 9), "holiday", "停电")])
    assert wc.is_working_day(date(2025, 10, 8))
    assert not wc.is_working_day(date(2025, 10, 9))
    assert wc.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 8)
    assert wc.add_working_days(date(2025, 9, 30), 2) == date(2025, 10, 10)


def test_bad_overrides_are_refused() -> None:
    with pytest.raises(InputError, match="'holiday' or 'workday'"):
        WorkingCalendar([Override(date(2027, 1, 1), "vacation")])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="conflicting"):
        WorkingCalendar([Override(date(2027, 1, 1), "holiday"), Override(date(2027, 1, 1), "workday")])
    with pytest.raises(InputError):
        CalendarOverride(day=date(2027, 1, 1), kind="vacation")


def test_load_reads_the_override_table(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/t.db")
    try:
        db.create_all()
        with db.transaction() as session:
            session.add_all(CalendarOverride(day=o.day, kind=o.kind, name=o.name) for o in OVERRIDES_2027)
        with db.sessions() as session:
            wc = WorkingCalendar.load(session)
            row = session.scalars(select(CalendarOverride).where(CalendarOverride.day == date(2027, 1, 1))).one()
            assert row.created_at.tzinfo is not None
            assert row.name == "元旦"
        # The days count at once; the year's deadlines stay provisional until it is published.
        assert not wc.known_year(2027)
        assert wc.deadline(date(2026, 12, 28), 5) == Deadline(date(2027, 1, 5), provisional=True)
        with db.transaction() as session:
            session.add(CalendarYear(year=2027, published_by="admin"))
        with db.sessions() as session:
            wc = WorkingCalendar.load(session)
        assert wc.known_year(2027)
        assert wc.deadline(date(2026, 12, 28), 5) == Deadline(date(2027, 1, 5), provisional=False)
        assert wc.is_working_day(date(2027, 9, 26))
        # The library still answers for the years it knows.
        assert wc.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    finally:
        db.dispose()
