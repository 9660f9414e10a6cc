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
