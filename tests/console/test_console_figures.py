"""Numbers: the dashboard's figures, the recompute of provisional deadlines, decision forms."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from console_support import FAR_REVIEWER, OFFICER, REVIEWER, submit
from flask import Flask
from sqlalchemy import select

from huiju.calendar import WorkingCalendar
from huiju.errors import InputError, PermissionDenied
from huiju.models import Case, CaseStatus, Rating
from huiju.runtime import Runtime
from huiju.services import calendar_admin, dashboard
from huiju.services.actors import load_actor
from huiju.services.decisions import DecisionOptions, decision_data


def test_working_days_between_skips_the_national_day_week() -> None:
    calendar = WorkingCalendar()
    # 2025-09-30 (Tue) to 2025-10-11 (Sat, an adjusted working day): 10-9, 10-10, 10-11.
    assert calendar.working_days_between(date(2025, 9, 30), date(2025, 10, 11)) == 3
    assert calendar.working_days_between(date(2025, 10, 11), date(2025, 9, 30)) == -3


def test_dashboard_counts_received_concluded_overdue_and_average(runtime: Runtime) -> None:
    numbers = [submit(runtime) for _ in range(3)]
    with runtime.db.transaction() as session:
        cases = {c.number: c for c in session.scalars(select(Case))}
        first, second, third = (cases[n] for n in numbers)
        # Filed Mon 2025-09-29; concluded Fri 2025-10-10: 30 Sep, 9 Oct, 10 Oct = 3 working days.
        for case in (first, second, third):
            case.submitted_at = datetime(2025, 9, 29, 2, 0, tzinfo=UTC)
            case.committed_due, case.statutory_due = date(2025, 10, 9), date(2025, 10, 20)
        first.status, first.concluded_at = CaseStatus.CONCLUDED, datetime(2025, 10, 10, 2, 0, tzinfo=UTC)
        second.status, second.concluded_at = CaseStatus.CONCLUDED, datetime(2025, 9, 30, 2, 0, tzinfo=UTC)
    with runtime.db.sessions() as session:
        mine = dashboard.figures(session, load_actor(session, REVIEWER), today=date(2025, 10, 13))
        far = dashboard.figures(session, load_actor(session, FAR_REVIEWER), today=date(2025, 10, 13))
    assert (mine.total.received, mine.total.concluded, mine.total.overdue) == (3, 2, 2)
    assert mine.total.average_days == 2.0  # (3 + 1) / 2
    assert [(t.key, t.received) for t in mine.by_item] == [("elderly-care-subsidy", 3)]
    assert [(t.key, t.received) for t in mine.by_community] == [("110105001001", 3)]
    assert far.total.received == 0


def test_entering_a_year_recomputes_provisional_deadlines(runtime: Runtime) -> None:
    number = submit(runtime)
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        case.submitted_at = datetime(2099, 12, 28, 2, 0, tzinfo=UTC)  # Mon; 2100 has no schedule
        case.committed_due, case.statutory_due, case.due_provisional = date(2100, 1, 1), date(2100, 1, 1), True
        limit = case.item.committed_limit
    with runtime.db.transaction() as session:
        admin = load_actor(session, "admin")
        with pytest.raises(PermissionDenied):
            calendar_admin.set_day(session, runtime.engine, load_actor(session, OFFICER), date(2100, 1, 1), "holiday")
        with pytest.raises(InputError, match="not in 2100"):
            calendar_admin.import_schedule(session, runtime.engine, admin, 2100, "2101-01-01 holiday")
        calendar_admin.import_schedule(
            session, runtime.engine, admin, 2099, '{"holidays": [{"day": "2099-10-01", "name": "国庆节"}]}'
        )
        report = calendar_admin.import_schedule(
            session, runtime.engine, admin, 2100, "# 元旦\n2100-01-01 holiday 元旦\n"
        )
    assert report.days == 1 and report.recomputed == 1
    with runtime.db.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        entered = [
            *calendar_admin.year_schedule(session, 2099).overrides,
            *calendar_admin.year_schedule(session, 2100).overrides,
        ]
        expected = WorkingCalendar(entered).deadline(date(2099, 12, 28), limit)
        assert case.committed_due == expected.due and not case.due_provisional


def test_decision_forms_ask_for_what_each_decision_needs() -> None:
    options = DecisionOptions(
        ["accept", "refuse", "supplement"],
        materials=[("id_card", "Resident identity card")],
        material_names={"id_card": "居民身份证"},
    )  # an officer working in English: the case still records the Chinese name the resident reads
    # Every decision carries an opinion: the phrase of the trade unless the officer writes one.
    assert decision_data(options, "accept", {}) == {"comment": "申请材料齐全，符合法定形式，予以受理。"}
    with pytest.raises(InputError, match="choose a reason"):
        decision_data(options, "refuse", {"reason_code": "made-up"})
    with pytest.raises(InputError, match="explain the reason"):
        decision_data(options, "refuse", {"reason_code": "other"})
    refused = decision_data(options, "refuse", {"reason_code": "ineligible", "comment": "收入超标"})
    assert refused["reason"] == "申请人不符合本事项的申请条件：收入超标"
    assert decision_data(options, "supplement", {"missing": ["id_card"], "missing_other": "户口本"})[
        "missing_materials"
    ] == ["居民身份证", "户口本"]
    with pytest.raises(InputError, match="not a material"):
        decision_data(options, "supplement", {"missing": ["passport"]})
    with pytest.raises(InputError, match="tick every missing"):
        decision_data(options, "supplement", {})
    with pytest.raises(InputError, match="not a decision"):
        decision_data(options, "approve", {})


def rate_three(runtime: Runtime) -> None:
    """Three concluded cases rated 5, 2 and 1; of the two bad ratings' follow-ups, the first is done
    and the second is overdue."""
    from datetime import timedelta

    from huiju.services import ratings
    from huiju.services.tasks import complete_task
    from workflows_bpmn.models import HumanTask, HumanTaskStatus

    numbers = [submit(runtime) for _ in range(3)]
    with runtime.db.transaction() as session:
        for case in session.scalars(select(Case)):
            case.status, case.outcome, case.concluded_at = CaseStatus.CONCLUDED, "approved", datetime.now(UTC)
    with runtime.db.transaction() as session:
        resident = load_actor(session, "resident-zhang")
        for number, level in zip(numbers, (5, 2, 1), strict=True):
            ratings.rate_case(session, runtime.engine, resident, number, level, "差" if level < 3 else "好")
    with runtime.db.transaction() as session:
        instances = [r.follow_up_instance_id for r in session.scalars(select(Rating).order_by(Rating.id))]
        follow_ups = list(session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(instances),
                                                                  HumanTask.status == HumanTaskStatus.READY)
                                          .order_by(HumanTask.created_at)))  # fmt: skip
        assert len(follow_ups) == 2
        follow_ups[1].due_at = datetime.now(UTC) - timedelta(days=1)  # the second is overdue, not dealt with
        first = follow_ups[0].id
    with runtime.db.transaction() as session:
        complete_task(session, runtime.engine, load_actor(session, OFFICER), first, "done", {"comment": "已回访致歉"})


def test_dashboard_gives_satisfaction_and_bad_ratings_followed_up_on_time(runtime: Runtime) -> None:
    from datetime import timedelta

    from huiju.services.worklist import today_in_china

    rate_three(runtime)
    today = today_in_china()
    with runtime.db.sessions() as session:
        mine = dashboard.figures(session, load_actor(session, REVIEWER), start=today - timedelta(days=7), end=today)
        before = dashboard.figures(session, load_actor(session, REVIEWER), start=date(2025, 1, 1),
                                   end=date(2025, 1, 31))  # fmt: skip
        far = dashboard.figures(session, load_actor(session, FAR_REVIEWER), start=today, end=today)
    r = mine.ratings
    assert (r.rated, r.satisfied, r.rate, r.bad, r.due, r.on_time, r.on_time_share) == (3, 1, 33.3, 2, 2, 1, 50.0)
    assert [(t.key, t.rate) for t in mine.ratings_by_item] == [("elderly-care-subsidy", 33.3)]
    assert [(t.key, t.rated, t.bad) for t in mine.ratings_by_community] == [("110105001001", 3, 2)]
    assert mine.total.received == 3 and before.total.received == 0 and before.ratings.rated == 0
    assert far.ratings.rated == 0  # another street's reviewer sees none of them
    with pytest.raises(InputError, match="starts after it ends"):
        dashboard.date_range(today, today - timedelta(days=1))


def test_the_dashboard_page_shows_the_range_and_the_ratings(runtime: Runtime, app: Flask) -> None:
    from console_support import sign_in

    submit(runtime)
    client = app.test_client()
    assert sign_in(client, REVIEWER) == 302
    page = client.get("/console/dashboard/?start=2026-01-01&end=2026-12-31").get_data(as_text=True)
    assert 'value="2026-01-01"' in page and 'value="2026-12-31"' in page
    assert 'id="satisfaction-rate"' in page
    # No rating yet: no empty chart, and no follow-up share drawn from nothing (0 of 0 is not 50 %).
    assert 'id="chart-rating-item"' not in page and 'id="chart-follow-up"' not in page
    assert 'id="no-follow-up-due"' in page
    rate_three(runtime)
    from huiju.services.worklist import today_in_china

    page = client.get(f"/console/dashboard/?end={today_in_china()}").get_data(as_text=True)
    assert 'id="chart-rating-item"' in page and 'id="chart-follow-up"' in page and "no-follow-up-due" not in page
    wrong = client.get("/console/dashboard/?start=2026-12-31&end=2026-01-01")
    assert wrong.status_code == 200 and 'id="range-error"' in wrong.get_data(as_text=True)
