"""The month's and the quarter's review, from snapshot rows written here by hand: achieved and
missed, movers, twice off track, what the rest of the year must bring.

Expected values are spelled out literally (or computed from the rows by simple arithmetic),
never taken from the reporting code.
"""

import datetime as dt

import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.reporting.html import review_text
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.review import build_review
from tests.snapshot_rows import AS_OF, frame, revenue_year, row


@pytest.fixture(scope="module")
def settings():
    return load_config("kpi.yaml")


def review_rows(settings):
    """Q2 and Q3 2026 for a few KPIs; Q3's numbers chosen so every section has something."""
    q2, q3 = (
        (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
    )
    rows = revenue_year(settings)
    spec = {  # kpi: (Q2 actual, Q2 status, Q3 actual, Q3 target, Q3 status)
        "leads": (300.0, "missed", 330.0, 380.0, "missed"),
        "intro_calls": (160.0, "achieved", 120.0, 150.0, "missed"),
        "ad_clicks": (10000.0, "missed", 14000.0, 13500.0, "achieved"),
        "email_open_rate": (0.30, "missed", 0.31, 0.35, "missed"),
        "instagram_followers": (4000.0, "missed", 4535.0, 5000.0, "missed"),
        "newsletter_unsubscribes": (90.0, "achieved", 80.0, 100.0, "achieved"),
    }
    for kpi, (a2, s2, a3, t3, s3) in spec.items():
        rows.append(row(kpi, "quarter", *q2, a2, t3, s2))
        rows.append(
            row(kpi, "quarter", *q3, a3, t3, s3, previous_actual=a2, change_pct=(a3 - a2) / a2)
        )
    rows.append(
        row(
            "email_open_rate",
            "year",
            dt.date(2026, 1, 1),
            dt.date(2026, 12, 31),
            0.32,
            0.35,
            "at_risk",
        )
    )
    return rows


def test_the_quarter_review(settings):
    rows = review_rows(settings)
    review = build_review(frame(rows), settings, AS_OF, "quarter", dt.date(2026, 7, 1))
    assert review.period == "2026-Q3" and review.is_closed
    assert {c.kpi.id for c in review.achieved} == {
        "ad_clicks",
        "newsletter_unsubscribes",
        "revenue",
    }
    assert {c.kpi.id for c in review.missed} == {
        "leads",
        "intro_calls",
        "email_open_rate",
        "instagram_followers",
    }
    assert [c.kpi.id for c in review.movers(True)] == [
        "ad_clicks",
        "instagram_followers",
        "newsletter_unsubscribes",
    ]  # good news: +40%, +13%, -11% unsubscribes (direction lower); then leads +10%
    assert [c.kpi.id for c in review.movers(False)] == ["intro_calls"]  # bad news: -25%
    assert {c.kpi.id for c, _ in review.twice_off} == {
        "leads",
        "email_open_rate",
        "instagram_followers",
    }
    year = {y.kpi.id: y for y in review.year}
    revenue = year["revenue"]  # Jan..Sep: 10,000 + 500 m each
    assert (
        revenue.to_date == sum(10000 + 500 * m for m in range(1, 10)) and revenue.target == 140000
    )
    assert revenue.per_period == pytest.approx((140000 - revenue.to_date) / 1)  # Q4 remains
    assert year["instagram_followers"].to_date == 4535 and year["instagram_followers"].needed == 465
    assert year["email_open_rate"].to_date == 0.32 and year["email_open_rate"].status == "at_risk"
    assert not year["email_open_rate"].additive and year["email_open_rate"].needed is None
    assert (
        review.next_period == "2026-Q4"
        and dict((k.id, t) for k, t in review.next_targets)["intro_calls"] == 150
    )


def test_the_month_review_says_what_each_remaining_month_must_bring(settings):
    review = build_review(
        frame(revenue_year(settings)), settings, AS_OF, "month", dt.date(2026, 10, 1)
    )
    revenue = {y.kpi.id: y for y in review.year}["revenue"]
    to_date = sum(10000 + 500 * m for m in range(1, 11))
    assert revenue.to_date == to_date and revenue.remaining == 2
    assert revenue.per_period == pytest.approx((140000 - to_date) / 2)
    assert (
        review.next_period == "2026-11" and review.cards[0].status == "achieved"
    )  # 15,000 against 12,000
    text = review_text(review, Formatter("en", "EUR"), "9.9", "markdown")
    assert (
        f"| Revenue | €{to_date:,.2f} | €140,000.00 | €{140000 - to_date:,.2f} | "
        f"€{(140000 - to_date) / 2:,.2f} |" in text
    )


def test_a_review_of_an_open_period_says_so_and_a_missing_period_is_named(settings):
    rows = [r for r in revenue_year(settings) if r["period_start"] != dt.date(2026, 2, 1)]
    review = build_review(frame(rows), settings, AS_OF, "month", dt.date(2026, 11, 1))
    assert not review.is_closed
    revenue = {y.kpi.id: y for y in review.year}["revenue"]
    assert revenue.to_date is None and revenue.without_data == ("2026-02",)
    html = review_text(review, Formatter("nl", "EUR"), "9.9", "html")
    assert (
        "De periode loopt nog" in html
        and "geen gegevens voor 2026-02" in html
        and "Evaluatie" in html
    )
