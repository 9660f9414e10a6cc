"""A year's schedule entered after cases were filed: every change to it moves the due dates it
affects, the tasks' due dates and the dates the process's reminder and escalation timers wait for."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from engine_support import CaseDriver
from freezegun import freeze_time
from SpiffWorkflow.util.task import TaskState

from huiju.calendar import CHINA
from huiju.errors import InputError
from huiju.runtime import Runtime
from huiju.services import calendar_admin
from huiju.services.actors import load_actor

ASSISTANCE = {"cause": "illness", "amount_requested": 3000, "description": "家中老人突发重病住院，医疗费用无力承担"}
#: A made-up 2027 schedule: New Year's Day and, for the test, Monday 4 January off.
SCHEDULE_2027 = "2027-01-01 holiday 元旦\n2027-01-04 holiday 测试假日\n2027-02-06 workday 测试调休\n"


def deadlines_of(driver: CaseDriver) -> dict[str, object]:
    """The ``deadlines`` the ready intake step holds, read back from the stored workflow."""
    with driver.rt.db.sessions() as session:
        workflow = driver.rt.engine.load(session, driver.instance_id)
        (task,) = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "intake"]
        return dict(task.data["deadlines"])


def change(rt: Runtime, action: str, *args: object) -> int:
    with rt.db.transaction() as session:
        admin = load_actor(session, "admin")
        report = getattr(calendar_admin, action)(session, rt.engine, admin, *args)
    return int(report.recomputed)


def test_each_change_to_the_new_year_moves_due_dates_tasks_and_timers(rt: Runtime) -> None:
    with freeze_time(datetime(2026, 12, 24, 2, 0, tzinfo=UTC)):  # Thursday 24 Dec, 10:00 in China
        driver = CaseDriver(rt, item="temporary-assistance", form=dict(ASSISTANCE)).submit()
    assert driver.settle_all() == ["sms.send_sms"]  # the acknowledgement: the case waits at intake
    case = driver.case()
    # 2027 has no schedule: weekends only, provisional. Ten working days: 25, 28-31 Dec, 1, 4-7 Jan.
    assert (case.committed_due, case.due_provisional) == (date(2027, 1, 7), True)
    assert deadlines_of(driver)["escalate_at"] == "2027-01-07T17:30:00+08:00"

    assert change(rt, "set_day", date(2027, 1, 1), "holiday", "元旦") == 1  # one day entered: 1 Jan off
    case = driver.case()
    assert (case.committed_due, case.due_provisional) == (date(2027, 1, 8), True)  # counts; not final yet

    assert change(rt, "import_schedule", 2027, SCHEDULE_2027) == 1  # the whole year: 4 Jan off as well
    case = driver.case()
    assert (case.committed_due, case.due_provisional) == (date(2027, 1, 11), False)  # imported: published
    data = deadlines_of(driver)
    assert data["committed_due"] == "2027-01-11" and data["escalate_at"] == "2027-01-11T17:30:00+08:00"
    assert data["remind_at"] == "2027-01-08T09:00:00+08:00"  # the working day before
    (intake,) = [t for t in driver.tasks() if t.step == "intake"]
    assert intake.due_at is not None and intake.due_at.astimezone(CHINA).date() == date(2027, 1, 11)
    assert driver.instance().next_timer_due == datetime(2027, 1, 8, 1, 0, tzinfo=UTC)  # the reminder, moved

    assert change(rt, "remove_day", date(2027, 1, 4)) == 1
    assert driver.case().committed_due == date(2027, 1, 8)
    assert change(rt, "publish_year", 2027) == 0  # already published by the import: nothing moves
    assert change(rt, "set_day", date(2028, 5, 2), "holiday", "") == 0  # a year the case never reaches
    assert "deadline_recomputed" in driver.timeline()


def test_days_entered_one_by_one_are_final_once_the_year_is_published(rt: Runtime) -> None:
    with freeze_time(datetime(2026, 12, 24, 2, 0, tzinfo=UTC)):
        driver = CaseDriver(rt, item="temporary-assistance", form=dict(ASSISTANCE)).submit()
    driver.settle_all()
    assert change(rt, "set_day", date(2027, 1, 1), "holiday", "元旦") == 1
    assert driver.case().due_provisional
    assert change(rt, "publish_year", 2027) == 1
    case = driver.case()
    assert (case.committed_due, case.due_provisional) == (date(2027, 1, 8), False)
    assert deadlines_of(driver)["provisional"] is False
    with pytest.raises(InputError, match="already known"):
        change(rt, "publish_year", 2026)  # the library's year
    with pytest.raises(InputError, match="enter the days"):
        change(rt, "publish_year", 2028)
