"""The first screen (reporting.moment) from snapshot rows written here by hand: the closed period's
verdicts (final or not yet), the year's headline in English and Dutch, and the three things to act
on first ranked by their distance from target.

Expected texts and orders are spelled out literally, never taken from the code under test.
"""

import datetime as dt

import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.model import build_views
from kpi_pipeline.reporting.moment import (
    closed_line,
    headline,
    last_closed_fallback,
    moment_of,
    reason,
)
from tests.snapshot_rows import frame, month, row

SIXTH = dt.date(2026, 12, 6)  # December: 6 of 31 days, too early; November closed
EN, NL = Formatter("en", "EUR"), Formatter("nl", "EUR")
YEAR = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


@pytest.fixture(scope="module")
def settings():
    return load_config("kpi.yaml")


def closed(kpi_id, actual, target, status, attainment, final=True, m=11):
    return row(kpi_id, "month", *month(m), actual, target, status, is_closed=True) | {
        "is_final": final,
        "attainment": attainment,
        "as_of": SIXTH,
    }


def open_month(kpi_id, actual, target, status, attainment=None, m=12, **kw):
    return row(kpi_id, "month", *month(m), actual, target, status, is_closed=False) | {
        "attainment": attainment,
        "as_of": SIXTH,
        **kw,
    }


def year(kpi_id, actual, target, status, projected, is_closed=False):
    return row(kpi_id, "year", *YEAR, actual, target, status, is_closed=is_closed) | {
        "projected": projected,
        "as_of": SIXTH,
    }


def sixth_rows():
    return [
        # December: too early for every KPI with a target
        open_month("revenue", 2000.0, 16000.0, "too_early"),
        open_month("orders", 15.0, 95.0, "too_early"),
        open_month("email_open_rate", 0.3, 0.35, "too_early"),
        open_month("treatments_performed", 40.0, None, "no_target"),
        # November: closed
        closed("revenue", 9600.0, 12000.0, "missed", 0.8),  # 20% short
        closed("orders", 101.0, 95.0, "achieved", 1.063, final=False),
        closed("email_open_rate", 0.315, 0.35, "missed", 0.9),  # 10% short
        closed("ad_cpc", 1.30, 0.65, "missed", 0.5),  # lower is better: twice the target, 50% short
        closed("average_order_value", 114.0, 120.0, "missed", 0.95, final=False),  # 5% short
        closed("treatments_performed", 300.0, None, "no_target", None),
        # the year
        year("newsletter_subscribers", 2413.0, 2500.0, "at_risk", 2413.0),
        year("website_visitors", 30000.0, 38000.0, "on_track", 38500.0),  # marketing's second
        year("revenue", 136354.8, 140000.0, "on_track", 151200.0),
        year("treatments_performed", 3000.0, None, "no_target", 3300.0),
    ]


def test_on_the_sixth_the_closed_month_leads_with_its_verdicts_final_or_not(settings):
    m = moment_of(frame(sixth_rows()), settings, SIXTH, "month")
    assert m.closed_first and m.current.period == "2026-12" and m.closed.period == "2026-11"
    assert closed_line(m, EN) == "November 2026 ended: 4 missed · 1 achieved (not final yet for 2)"
    assert closed_line(m, NL) == (
        "November 2026 is afgesloten: 4 niet behaald · 1 behaald (nog niet definitief voor 2)"
    )
    rows = [r for r in sixth_rows() if r["kpi_id"] != "average_order_value"]
    rows = [r | {"is_final": True} for r in rows]
    m = moment_of(frame(rows), settings, SIXTH, "month")
    assert closed_line(m, EN) == "November 2026 ended: 3 missed · 1 achieved (final)"


def test_the_three_actions_are_the_farthest_from_target_with_their_reasons(settings):
    m = moment_of(frame(sixth_rows()), settings, SIXTH, "month")
    assert [(a.card.kpi.id, round(a.distance, 4)) for a in m.actions] == [
        ("ad_cpc", 0.5),
        ("revenue", 0.2),
        ("email_open_rate", 0.1),
    ]  # average_order_value (5% short) is fourth: not shown; too_early and no_target never are
    assert [reason(a.card, EN) for a in m.actions] == [
        "missed in November 2026: €1.30 against a target of at most €0.65",
        "missed in November 2026: €9.6k against a target of €12k",
        "missed in November 2026: 31.5% against a target of 35.0%",
    ]
    assert reason(m.actions[1].card, NL) == (
        "niet behaald in november 2026: €\xa09,6K bij een doel van €\xa012K"
    )


def test_an_open_period_off_track_ranks_with_last_months_misses(settings):
    """As of 15 December the month is judgeable: it stays first, its off-track KPIs rank with
    November's misses, and a KPI off track now and missed before is listed once, where farther."""
    as_of = dt.date(2026, 12, 15)
    rows = [r for r in sixth_rows() if r["period_start"] != dt.date(2026, 12, 1)]
    rows += [
        open_month("revenue", 4100.0, 16000.0, "off_track", 0.5, expected_to_date=7700.0)
        | {"projected": 8000.0},
        open_month("orders", 60.0, 95.0, "on_track", 1.1),
        open_month("leads", 30.0, 125.0, "off_track", 0.3, expected_to_date=60.0)
        | {"projected": 37.5},
    ]
    m = moment_of(frame(rows), settings, as_of, "month")
    assert not m.closed_first and m.closed.period == "2026-11"
    assert [(a.card.kpi.id, a.card.period) for a in m.actions] == [
        ("leads", "2026-12"),
        ("revenue", "2026-12"),  # 50% short now, 20% in November: once
        ("ad_cpc", "2026-11"),  # 50% short too: the open period first on a tie
    ]
    assert reason(m.actions[1].card, EN) == (
        "off track: €4.1k so far, €7.7k expected by now; projected €8k against a target of €16k"
    )
    assert reason(m.actions[0].card, NL) == (
        "niet op koers: 30 tot nu toe, 60 verwacht; prognose 38 bij een doel van 125"
    )


def test_the_year_headline_per_domain_in_english_and_dutch(settings):
    m = moment_of(frame(sixth_rows()), settings, SIXTH, "month")
    assert [c.kpi.id for c in m.headlines] == ["newsletter_subscribers", "revenue"]
    assert [headline(c, EN) for c in m.headlines] == [
        "Newsletter subscribers: 2,413 of 2,500 for the year, projected 2,413: at risk of missing",
        "Revenue: €136k of €140k for the year, projected €151k: on course to achieve",
    ]
    assert [headline(c, NL) for c in m.headlines] == [
        "Nieuwsbriefabonnees: 2.413 van 2.500 voor het jaar, prognose 2.413: "
        "dreigt het net te missen",
        "Omzet: €\xa0136K van €\xa0140K voor het jaar, prognose €\xa0151K: op weg om het te halen",
    ]
    rows = [
        year("email_open_rate", 0.31, 0.35, "off_track", 0.31),
        year("revenue", 141000.0, 140000.0, "achieved", 141000.0, is_closed=True),
    ]
    (view,) = build_views(frame(rows), settings, SIXTH, ["year"])
    rate, revenue = view.cards
    assert headline(rate, EN) == (
        "Email open rate: 31.0% for the year, target 35.0%, projected 31.0%: projected to miss"
    )
    assert headline(rate, NL) == (
        "Openingsratio: 31,0% voor het jaar, doel 35,0%, prognose 31,0%: "
        "haalt het naar verwachting niet"
    )
    assert headline(revenue, EN) == "Revenue: €141k of €140k for the year: achieved"


def test_the_last_closed_fallback_for_the_portfolio(settings):
    snaps = frame(sixth_rows())
    (december,) = build_views(snaps, settings, SIXTH, ["month"])
    (november,) = build_views(snaps, settings, SIXTH, ["month"], {"month": dt.date(2026, 11, 1)})
    assert last_closed_fallback(december, november) == (november, True)
    assert last_closed_fallback(december, None) == (december, False)
    judged = frame([open_month("revenue", 9000.0, 16000.0, "on_track", 1.0)])
    (current,) = build_views(judged, settings, SIXTH, ["month"])
    assert last_closed_fallback(current, november) == (current, False)


def test_a_year_headline_not_judged_says_why(settings):
    """A year that started before history_start is partial, not scored: its headline says so and
    since when, in the reader's language (never a bare "partial" beside a figure)."""
    reason = (
        "partial: since 2026-03-01: history_start is 2026-03-01 (an earlier history_start and "
        "kpi sync --history fill the rest)"
    )
    rows = [year("revenue", 99900.0, 120000.0, "partial", None) | {"status_reason": reason}]
    (view,) = build_views(frame(rows), settings, SIXTH, ["year"])
    (revenue,) = view.cards
    assert headline(revenue, EN).startswith("Revenue: €99.9k of €120k for the year: partial: since")
    assert "1 Mar 2026" in headline(revenue, EN)
    assert "history_start" in headline(revenue, EN)
    assert "1 mrt 2026" in headline(revenue, NL)
