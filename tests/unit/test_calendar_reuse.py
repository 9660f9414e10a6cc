"""A calendar loaded from the same rows is reused (its worked-out years with it); a row changed by
another process, as the calendar's administration changes it, makes the next load build a new one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from huiju.calendar import CalendarOverride, CalendarYear, WorkingCalendar
from huiju.db import Database


def test_the_same_rows_give_the_same_calendar_and_a_change_a_new_one(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/t.db")
    other = Database(f"sqlite:///{tmp_path}/t.db")  # another process's pools on the same database
    try:
        db.create_all()
        with db.sessions() as session:
            first = WorkingCalendar.load(session)
            assert WorkingCalendar.load(session) is first
        assert first.is_working_day(date(2031, 10, 8))  # an unknown year: weekends only
        with other.transaction() as session:
            session.add(CalendarOverride(day=date(2031, 10, 8), kind="holiday", name="国庆节"))
        with db.sessions() as session:
            changed = WorkingCalendar.load(session)
        assert changed is not first
        assert not changed.is_working_day(date(2031, 10, 8))
        assert not changed.known_year(2031)
        with other.transaction() as session:
            session.add(CalendarYear(year=2031, published_by="admin"))
        with db.sessions() as session:
            published = WorkingCalendar.load(session)
        assert published is not changed and published.known_year(2031)
    finally:
        db.dispose()
        other.dispose()
