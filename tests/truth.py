"""Ground truth for end-to-end tests, independent of the pipeline's code.

Periods are enumerated here with plain date arithmetic (not kpi_pipeline.kpi.periods), and every
KPI value is computed from the sandbox world's events (world.truth_* and the CSV), never from
what an emulator served or from the pipeline's functions.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

MANUAL_CSV = Path(__file__).resolve().parent.parent / "data" / "manual_metrics.csv"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
SALES = (
    "leads",
    "intro_calls",
    "new_customers",
    "orders",
    "revenue",
    "average_order_value",
    "lead_conversion_rate",
    "call_conversion_rate",
    "orders_per_customer",
    "repeat_customer_rate",
)
CUSTOM = ("treatments_performed", "support_tickets_solved", "staff_sick_days")


# Mailchimp's 180-day activity window, as of the tests' as-of: the first month whose activity is
# complete from its first day
REBUILT_FROM = dt.date(2026, 6, 1)


def level_known(day):
    """A subscriber level is known at month ends (growth history)
    and on days rebuilt from activity."""
    return day >= REBUILT_FROM or (day + dt.timedelta(days=1)).day == 1


def periods(
    grain: str, first: dt.date, last: dt.date, week_start: str = "monday"
) -> Iterator[tuple[dt.date, dt.date]]:
    """(start, end) of every ``grain`` period that starts on or after ``first`` and
    on or before ``last``."""
    if grain == "day":
        day = first
        while day <= last:
            yield day, day
            day += dt.timedelta(days=1)
        return
    if grain == "week":
        start = first + dt.timedelta(days=(WEEKDAYS.index(week_start) - first.weekday()) % 7)
        while start <= last:
            yield start, start + dt.timedelta(days=6)
            start += dt.timedelta(days=7)
        return
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    year, month = first.year, first.month
    while True:
        if (month - 1) % months == 0:
            start = dt.date(year, month, 1)
            if start > last:
                return
            nxt_year, nxt_month = (year + (month - 1 + months) // 12, (month - 1 + months) % 12 + 1)
            if start >= first:
                yield start, dt.date(nxt_year, nxt_month, 1) - dt.timedelta(days=1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def manual_truth(kpi: str, start: dt.date, end: dt.date) -> float:
    """The CSV's values summed over the dates; 0 when it has none there (the file covers them)."""
    with MANUAL_CSV.open() as handle:
        return sum(
            float(r["value"])
            for r in csv.DictReader(handle)
            if r["kpi_id"] == kpi and start <= dt.date.fromisoformat(r["date"]) <= end
        )


@lru_cache(maxsize=4096)
def _sales(world, start: dt.date, end: dt.date) -> dict:
    return world.truth_sales(start, end)


def truth(world, kpi: str, start: dt.date, end: dt.date, ad_network: str | None = None):
    """A total KPI's value over start..end, straight from the world's events (ads of one
    network when only that one is configured)."""
    if kpi in SALES:
        return _sales(world, start, end)[kpi]
    if kpi in CUSTOM:
        return manual_truth(kpi, start, end)
    ads = lambda: world.truth_ads(start, end, ad_network)  # noqa: E731
    return {
        "website_visitors": lambda: world.web.users(start, end),
        "organic_search_visitors": lambda: world.web.users(start, end, "Organic Search"),
        "website_sessions": lambda: world.web.sessions(start, end),
        "ad_impressions": lambda: ads()["impressions"],
        "ad_clicks": lambda: ads()["clicks"],
        "ad_spend": lambda: ads()["spend"],
        "ad_ctr": lambda: ads()["clicks"] / ads()["impressions"] if ads()["impressions"] else None,
        "ad_cpc": lambda: ads()["spend"] / ads()["clicks"] if ads()["clicks"] else None,
        "instagram_followers": lambda: world.instagram.followers(end),
        "instagram_new_followers": lambda: world.instagram.new_followers(start, end),
        "instagram_follower_growth_rate": lambda: world.truth_follower_growth_rate(start, end),
        "newsletter_new_subscribers": lambda: world.truth_new_subscribers(start, end),
        "newsletter_unsubscribes": lambda: world.truth_unsubscribes(start, end),
        "newsletter_net_growth": lambda: world.truth_net_growth(start, end),
        "newsletter_subscribers": lambda: world.truth_subscribers(end),
        "newsletter_churn_rate": lambda: world.truth_churn_rate(start, end),
        "email_open_rate": lambda: world.truth_open_rate(start, end),
        "email_click_rate": lambda: world.truth_click_rate(start, end),
        "email_click_to_open_rate": lambda: world.truth_click_to_open_rate(start, end),
        "newsletter_cold_subscriber_share": lambda: world.truth_cold_share(end),
    }[kpi]()
