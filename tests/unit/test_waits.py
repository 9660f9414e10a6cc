"""How long a callback is awaited before Huiju asks: ISO 8601 durations whose days are working days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from huiju.calendar import CHINA, Wait, WorkingCalendar
from huiju.errors import ConfigurationError, InputError
from huiju.settings import load_settings
from workflows_bpmn.expressions import SafeEnvironment, host_functions


@pytest.mark.parametrize(
    ("text", "days", "elapsed"),
    [
        ("P1D", 1, timedelta(0)),
        ("PT10M", 0, timedelta(minutes=10)),
        ("PT15S", 0, timedelta(seconds=15)),
        ("P2DT3H", 2, timedelta(hours=3)),
        ("pt1h30m", 0, timedelta(hours=1, minutes=30)),
    ],
)
def test_waits_that_parse(text: str, days: int, elapsed: timedelta) -> None:
    assert Wait.parse(text) == Wait(days, elapsed)


@pytest.mark.parametrize("text", ["", "P", "PT", "P0D", "PT0S", "1D", "P1W", "P1M", "PT-5S", "soon", "P1DT"])
def test_waits_that_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        Wait.parse(text)


def test_a_working_day_skips_the_may_day_holidays() -> None:
    # 2026-04-30 (Thursday) 16:00 in Beijing; 1–5 May are rest days (the State Council's 2026 schedule).
    start = datetime(2026, 4, 30, 16, 0, tzinfo=CHINA)
    assert Wait.parse("P1D").after(start, WorkingCalendar()) == datetime(2026, 5, 6, 16, 0, tzinfo=CHINA)
    assert Wait.parse("PT30M").after(start, WorkingCalendar()) == start + timedelta(minutes=30)
    with pytest.raises(InputError):
        Wait.parse("P1D").after(datetime(2026, 4, 30, 16, 0), WorkingCalendar())  # naive: refused


def test_the_settings_refuse_a_wait_they_cannot_read() -> None:
    assert load_settings(decision_query_after="PT20S").decision_query_after == "PT20S"
    with pytest.raises(ConfigurationError, match="HUIJU|decision_query_after"):
        load_settings(decision_query_after="tomorrow")
    with pytest.raises(ConfigurationError):
        load_settings(delivery_query_after="P0D")


@freeze_time("2026-04-30 08:00:00", tz_offset=0)
def test_the_timer_expression_gives_the_seconds_to_the_end_of_the_wait() -> None:
    environment = SafeEnvironment(host_functions(WorkingCalendar, waits={"egov_decision": "P1D"}))
    # 08:00 UTC on 30 April is 16:00 in Beijing; the next working day is 6 May, 16:00.
    expected = datetime(2026, 5, 6, 8, 0, tzinfo=UTC) - datetime(2026, 4, 30, 8, 0, tzinfo=UTC)
    assert environment.evaluate('callback_wait("egov_decision")', {}) == f"PT{int(expected.total_seconds())}S"
    short = SafeEnvironment(host_functions(WorkingCalendar, waits={"egov_decision": "PT15S"}))
    assert short.evaluate('callback_wait("egov_decision")', {}) == "PT15S"
    with pytest.raises(Exception, match="no callback wait"):
        environment.evaluate('callback_wait("something_else")', {})
