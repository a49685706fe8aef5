"""The sandbox world's clock: when it starts and the business-local day of an instant (Studio Lumen
is in Brussels; the platforms' timestamps are UTC)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

WORLD_START = dt.date(2025, 1, 1)
TIMEZONE = "Europe/Brussels"
TZ = ZoneInfo(TIMEZONE)
UTC = dt.timezone.utc


def local_date(ts: dt.datetime) -> dt.date:
    """The business-local date of an aware timestamp."""
    return ts.astimezone(TZ).date()


def local_midnight(day: dt.date) -> dt.datetime:
    """Start of a business-local day, as an aware UTC timestamp."""
    return dt.datetime.combine(day, dt.time(), TZ).astimezone(UTC)
