"""ISO 8601 durations as items and settings store them (``P30D``, ``P2W``, ``PT4H``, ``P1M``).

Stored as text, because the BPMN timers read that text; shown to people in words
(:func:`huiju.services.audit_words.duration_words`) or, where a form asks for days, as days; and
read from people as they write a length of time (:func:`from_words`: ``15 分钟``, ``2 hours``, ``3d``).
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


#: A number and its unit, as people write a length of time in Chinese or English (``15 分钟``,
#: ``1天2小时``, ``2 hours``, ``90min``, ``3d``), and what each unit is worth in seconds.
_UNITS: dict[str, int] = {
    **dict.fromkeys(("秒", "秒钟", "s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("分", "分钟", "m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("小时", "个小时", "钟头", "个钟头", "h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("天", "日", "d", "day", "days"), 86400),
    **dict.fromkeys(("周", "星期", "个星期", "w", "wk", "wks", "week", "weeks"), 7 * 86400),
}
_UNIT_WORDS = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))  # the longest word first
_PART = re.compile(rf"\s*(\d{{1,6}})\s*({_UNIT_WORDS})(?![a-z])", re.IGNORECASE)
_JOINERS = re.compile(r"\s*(?:,|，|、|and|又|零)?\s*", re.IGNORECASE)


def from_words(text: str) -> str | None:
    """The ISO 8601 duration of a length of time as a person writes it: a number and a unit, or
    several (``15 分钟``, ``1 天 2 小时``, ``2 hours``, ``1h30m``, ``3d``), or already ISO 8601
    (``PT15M``); ``m`` is minutes, never months. Written in days, hours, minutes and seconds
    (``90 分钟`` → ``PT1H30M``, ``2 周`` → ``P14D``). None for a text that is no length of time."""
    given = text.strip()
    if not given:
        return None
    if parts(given) is not None:
        return given.upper()
    seconds, at = 0, 0
    while at < len(given):
        joined = _JOINERS.match(given, at)
        if at and joined is not None:
            at = joined.end()
        found = _PART.match(given, at)
        if found is None:
            return None
        seconds += int(found.group(1)) * _UNITS[found.group(2).lower()]
        at = found.end()
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "") if seconds else "PT0S"
