"""What the inbox keeps between requests follows the administration at once, in every process: the
item filter after an item is published or withdrawn, the time left after a holiday is entered.
A second ``Database`` on the same file stands for another process (a second web process, the
worker)."""

from __future__ import annotations

from datetime import date

from test_console_admin import NEW_ITEM

from huiju.calendar import WorkingCalendar
from huiju.db import Database
from huiju.runtime import Runtime
from huiju.services import calendar_admin, catalogue, worklist
from huiju.services.actors import load_actor


def _codes(db: Database) -> list[str]:
    with db.sessions() as session:
        return [choice.code for choice in worklist.item_choices(session)]


def _working(db: Database, day: date) -> bool:
    with db.sessions() as session:
        return WorkingCalendar.load(session).is_working_day(day)


def test_the_item_filter_and_the_calendar_follow_the_administration_in_another_process(runtime: Runtime) -> None:
    other = Database(runtime.db.url)
    try:
        before = _codes(other)
        assert NEW_ITEM.code not in before and _codes(other) == before  # kept: read once
        thursday = date(2031, 1, 2)
        assert _working(other, thursday)
        with runtime.db.transaction() as session:
            admin = load_actor(session, "admin")
            catalogue.create_item(session, admin, NEW_ITEM)
            catalogue.publish_item(session, admin, NEW_ITEM.code)
        assert NEW_ITEM.code in _codes(other)
        with runtime.db.transaction() as session:
            admin = load_actor(session, "admin")
            catalogue.withdraw_item(session, admin, NEW_ITEM.code, "政策调整")
            calendar_admin.set_day(session, runtime.engine, admin, thursday, "holiday", "元旦")
        assert _codes(other) == before
        assert not _working(other, thursday)
    finally:
        other.dispose()
