"""Business periods: weeks (starting on ``week_start``), months, quarters, years.

Labels: ``2026-W48`` (ISO-style week number of the week's first day shifted to Monday),
``2026-11``, ``2026-Q4``, ``2026``, and ``2026-11-27`` for days.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator

GRAINS = ("day", "week", "month", "quarter", "year")
SNAPSHOT_GRAINS = ("week", "month", "quarter", "year")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def period_start(grain: str, day: dt.date, week_start: str = "monday") -> dt.date:
    """First day of the ``grain`` period containing ``day``."""
    if grain == "day":
        return day
    if grain == "week":
        offset = (day.weekday() - WEEKDAYS.index(week_start)) % 7
        return day - dt.timedelta(days=offset)
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if grain == "year":
        return dt.date(day.year, 1, 1)
    raise ValueError(f"unknown grain {grain!r}; known: {', '.join(GRAINS)}")


def next_start(grain: str, start: dt.date) -> dt.date:
    """First day of the period after the one starting at ``start``."""
    if grain == "day":
        return start + dt.timedelta(days=1)
    if grain == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    total = start.year * 12 + start.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def period_end(grain: str, start: dt.date) -> dt.date:
    return next_start(grain, start) - dt.timedelta(days=1)


def previous_start(grain: str, start: dt.date, week_start: str = "monday") -> dt.date:
    return period_start(grain, start - dt.timedelta(days=1), week_start)


def same_period_last_year(grain: str, start: dt.date, week_start: str = "monday") -> dt.date | None:
    """Start of the same period a year earlier, or None when it has no twin.

    A week's twin is the week with the same week number in the previous (ISO) year, so
    2026-W53 has none; months, quarters and years move back one calendar year.
    """
    if grain == "week":
        year, week = label(grain, start, week_start).split("-W")
        try:
            return parse_label("week", f"{int(year) - 1}-W{week}", week_start)
        except ValueError:
            return None
    if grain == "day":
        return start - dt.timedelta(days=364)
    return start.replace(year=start.year - 1)


def share_of(start: dt.date, end: dt.date, share: float) -> dt.date:
    """Last day of the first ``share`` of the period start..end (like for like: 10 of 30 days
    of this month is the first 10 of a 31-day month), at least its first day. A tie rounds
    down (15 of 30 days is 15 of 31, not 16), so a comparison never spans more time."""
    days = (end - start).days + 1
    return start + dt.timedelta(days=min(days, max(1, math.ceil(share * days - 0.5 - 1e-9))) - 1)


def iter_periods(
    grain: str, first: dt.date, last: dt.date, week_start: str = "monday"
) -> Iterator[dt.date]:
    """Starts of every ``grain`` period overlapping ``first..last``."""
    start = period_start(grain, first, week_start)
    while start <= last:
        yield start
        start = next_start(grain, start)


def label(grain: str, start: dt.date, week_start: str = "monday") -> str:
    """The public label of a period (see module docstring)."""
    if grain == "day":
        return start.isoformat()
    if grain == "week":
        # numbered by the ISO week holding the week's fourth day (Monday weeks: ISO weeks)
        year, week, _ = (start + dt.timedelta(days=3)).isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "month":
        return f"{start.year}-{start.month:02d}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


_PATTERNS = {
    "year": re.compile(r"^(\d{4})$"),
    "quarter": re.compile(r"^(\d{4})-Q(\d)$"),
    "month": re.compile(r"^(\d{4})-(\d{1,2})$"),
    "week": re.compile(r"^(\d{4})-W(\d{1,2})$"),
    "day": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
}


def grain_of(text: str) -> str | None:
    """Which grain a label has the shape of, or None."""
    for grain, pattern in _PATTERNS.items():
        if pattern.match(text):
            return grain
    return None


def parse_label(grain: str, text: str, week_start: str = "monday") -> dt.date:
    """Start date of the period labelled ``text``.

    Raises:
        ValueError: with a short reason ("not a month") when the label is not valid.
    """
    text = str(text).strip()
    match = _PATTERNS[grain].match(text)
    noun = {
        "day": "a date (YYYY-MM-DD)",
        "week": "a week (YYYY-Www)",
        "month": "a month (YYYY-MM)",
        "quarter": "a quarter (YYYY-Qn)",
        "year": "a year (YYYY)",
    }[grain]
    if not match:
        raise ValueError(f"not {noun}")
    parts = [int(p) for p in match.groups()]
    try:
        if grain == "year":
            return dt.date(parts[0], 1, 1)
        if grain == "quarter":
            if not 1 <= parts[1] <= 4:
                raise ValueError
            return dt.date(parts[0], 3 * parts[1] - 2, 1)
        if grain == "month":
            return dt.date(parts[0], parts[1], 1)
        if grain == "day":
            return dt.date(*parts)
        monday = dt.date.fromisocalendar(parts[0], parts[1], 1)
    except ValueError:
        raise ValueError(f"not {noun}") from None
    return period_start("week", monday + dt.timedelta(days=3), week_start)
