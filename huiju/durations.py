"""ISO 8601 durations as items and settings store them (``P30D``, ``P2W``, ``PT4H``, ``P1M``).

Stored as text, because the BPMN timers read that text; shown to people in words
(:func:`huiju.services.audit_words.duration_words`) or, where a form asks for days, as days.
"""

from __future__ import annotations

import re

#: Years, months, weeks, days, then hours, minutes and seconds after ``T``; at least one part.
ISO_DURATION = re.compile(
    r"P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)


def parts(duration: str) -> tuple[int, int, int, int, int, int, int] | None:
    """(years, months, weeks, days, hours, minutes, seconds), or None when it is no duration."""
    match = ISO_DURATION.fullmatch(duration.strip().upper())
    if match is None:
        return None
    y, mo, w, d, h, mi, s = (int(n or 0) for n in match.groups())
    return y, mo, w, d, h, mi, s


def whole_days(duration: str) -> int | None:
    """A duration of whole days or weeks in days; None for one with hours, months or years (a length
    that is not a fixed number of days) or for a text that is no duration."""
    found = parts(duration)
    if found is None:
        return None
    years, months, weeks, days, hours, minutes, seconds = found
    if years or months or hours or minutes or seconds:
        return None
    return 7 * weeks + days


def fixed_seconds(duration: str) -> int | None:
    """The length in seconds of a duration of weeks, days, hours, minutes and seconds; None for one
    with months or years (their length varies) or for a text that is no duration."""
    found = parts(duration)
    if found is None:
        return None
    years, months, weeks, days, hours, minutes, seconds = found
    if years or months:
        return None
    return (((7 * weeks + days) * 24 + hours) * 60 + minutes) * 60 + seconds


def days_spanned(duration: str) -> int | None:
    """The whole days a duration reaches into, at least one (a month counted as 30 days, a year as
    365); None for a text that is no duration."""
    found = parts(duration)
    if found is None:
        return None
    years, months, weeks, days, hours, minutes, seconds = found
    clock = hours * 3600 + minutes * 60 + seconds
    return max(1, 365 * years + 30 * months + 7 * weeks + days + -(-clock // 86400))
