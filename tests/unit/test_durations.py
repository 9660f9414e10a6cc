"""ISO 8601 durations as items store them: read into parts, days, and the days a notice names."""

from __future__ import annotations

import pytest

from huiju import durations
from huiju.services.audit_words import duration_words


@pytest.mark.parametrize(
    ("text", "days", "spanned"),
    [
        ("P30D", 30, 30),
        ("p15d", 15, 15),
        ("P2W", 14, 14),
        ("P2W3D", 17, 17),
        ("PT4H", None, 1),  # hours: no whole days to show in the item form; a notice names the next day
        ("PT2S", None, 1),
        ("P1M", None, 30),
        ("P1M2DT12H", None, 33),
        ("P1Y", None, 365),
    ],
)
def test_a_duration_in_days(text: str, days: int | None, spanned: int) -> None:
    assert durations.whole_days(text) == days
    assert durations.days_spanned(text) == spanned


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "30", "30 days", "P-1D", "P1.5D", "T4H"])
def test_what_is_no_duration_is_none_everywhere(text: str) -> None:
    assert durations.parts(text) is None
    assert durations.whole_days(text) is None and durations.days_spanned(text) is None
    assert duration_words(text) is None


def test_a_duration_of_hours_alone_reads_in_words() -> None:
    assert duration_words("PT4H", "zh_CN") == "4 小时" and duration_words("PT4H", "en") == "4 hours"
    assert duration_words("P1M2DT12H", "en") == "1 month 2 days 12 hours"
    assert duration_words("P1M2DT12H", "zh_CN") == "1 个月 2 天 12 小时"


@pytest.mark.parametrize(("text", "seconds"), [("PT15M", 900), ("P3D", 259200), ("P1W", 604800), ("P1DT1S", 86401)])
def test_a_fixed_length_in_seconds(text: str, seconds: int) -> None:
    assert durations.fixed_seconds(text) == seconds


@pytest.mark.parametrize("text", ["P1M", "P1Y", "P", "PT", "15 minutes"])
def test_a_length_that_varies_or_is_no_duration_has_no_seconds(text: str) -> None:
    assert durations.fixed_seconds(text) is None


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("15 分钟", "PT15M"), ("15分钟", "PT15M"), ("2 小时", "PT2H"), ("3 天", "P3D"), ("2 周", "P14D"),
        ("1天2小时", "P1DT2H"), ("1 天又 2 小时", "P1DT2H"), ("1 小时 30 分钟", "PT1H30M"),
        ("15 minutes", "PT15M"), ("1 hour and 30 minutes", "PT1H30M"), ("3 days", "P3D"), ("90 MIN", "PT1H30M"),
        ("1h30m", "PT1H30M"), ("1h, 30m", "PT1H30M"), ("3d", "P3D"), ("45s", "PT45S"),
        ("PT15M", "PT15M"), (" p3d ", "P3D"), ("0 分钟", "PT0S"),
    ],
)  # fmt: skip
def test_a_length_of_time_is_read_as_people_write_it(written: str, iso: str) -> None:
    assert durations.from_words(written) == iso


@pytest.mark.parametrize("written", ["", "15", "分钟", "half an hour", "15 分钟 abc", "2m3", "1h and", "15 minutesx"])
def test_what_is_no_length_of_time_is_none(written: str) -> None:
    assert durations.from_words(written) is None
