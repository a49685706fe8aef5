"""Changes over a tiny base: "new" or "from 1", never "▲ 800.0%", in every output.

The rule: README.md#what-the-numbers-mean, "Changes over a tiny base".

The snapshot rows are written here by hand: leads went from 1 to 9 (+800%), ad impressions from
0 (ads paused) to 12,000, intro calls from 1 last year to 9; revenue and ad clicks changed over a
real base and keep their percentages.
"""

import datetime as dt
import json
import re

import pandas as pd
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.kpi.scorecard import SNAPSHOT_COLUMNS
from kpi_pipeline.reporting.change import basis_of
from kpi_pipeline.reporting.html import review_text, scorecard_html
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.markdown import markdown
from kpi_pipeline.reporting.model import Scorecard, build_views, json_doc
from kpi_pipeline.reporting.review import build_review
from kpi_pipeline.reporting.terminal import render_text

AS_OF = dt.date(2026, 11, 15)
SEP, OCT = (
    (dt.date(2026, 9, 1), dt.date(2026, 9, 30)),
    (dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
)


@pytest.fixture(scope="module")
def settings():
    return load_config("kpi.yaml")


@pytest.fixture(scope="module")
def kpis(settings):
    return {k.id: k for k in settings.kpis()}


def row(kpi_id, period, actual, previous=None, last_year=None, target=None, status="no_target"):
    """A closed period's snapshot; change_pct as the pipeline computes it (None over 0)."""
    base = {c: None for c in SNAPSHOT_COLUMNS}
    base.update(
        business_id="studio_lumen",
        kpi_id=kpi_id,
        grain="month",
        period_start=period[0],
        period_end=period[1],
        as_of=AS_OF,
        actual=actual,
        target=target,
        status=status,
        is_closed=True,
        is_final=True,
        elapsed_share=1.0,
        projected=actual,
        projection_method="none",
        previous_actual=previous,
        last_year_actual=last_year,
        change_pct=(actual - previous) / abs(previous) if previous else None,
        computed_at=dt.datetime(2026, 11, 16, 3, 0),
    )
    return base


def snapshots():
    rows = [
        row(k, SEP, a)
        for k, a in (
            ("leads", 1.0),
            ("ad_impressions", 0.0),
            ("intro_calls", 12.0),
            ("revenue", 10000.0),
            ("ad_clicks", 10000.0),
        )
    ]
    rows += [
        row("leads", OCT, 9.0, previous=1.0, last_year=30.0),  # +800% vs previous: a tiny base
        row("ad_impressions", OCT, 12000.0, previous=0.0),  # the ads were paused in September
        row("intro_calls", OCT, 9.0, previous=12.0, last_year=1.0),  # -25%, but from 1 a year ago
        row("revenue", OCT, 11000.0, previous=10000.0, last_year=12000.0),  # +10%, -8.3%
        row("ad_clicks", OCT, 14000.0, previous=10000.0),  # +40%
    ]
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def card(settings):
    views = build_views(snapshots(), settings, AS_OF, ("month",), {"month": OCT[0]})
    return Scorecard(settings.business, AS_OF, False, "EUR", views, {})


def line(text, label):
    return next(x for x in text.splitlines() if x.lstrip("| ").startswith(label))


# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    "kpi_id, base, actual, expected",
    [
        ("leads", 1, 9, "tiny_base"),  # fewer than a handful of events
        ("leads", 4, 2, "tiny_base"),  # a fall from 4 to 2 is no -50% news either
        ("leads", 9, 1, "pct"),  # a fall from a real base: -89%
        ("leads", 5, 9, "pct"),  # a handful is a base: +80%
        ("leads", 0, 9, "new"),
        ("leads", 0, 0, None),  # nothing to compare
        ("leads", 3, 3, "pct"),  # = 0.0% over any base
        ("leads", None, 9, None),
        (
            "ad_impressions",
            12000,
            73000,
            "tiny_base",
        ),  # +508%: the ads were paused most of the week before
        ("ad_impressions", 12000, 48000, "pct"),  # +300% is a percentage still
        ("ad_spend", 0.37, 400.0, "tiny_base"),
        ("ad_spend", 3.0, 4.0, "pct"),  # money has no "handful": +33%
        (
            "lead_conversion_rate",
            0.01,
            0.09,
            "tiny_base",
        ),  # a ratio: only relative to the current value
        ("lead_conversion_rate", 0.02, 0.03, "pct"),
        (
            "orders_per_customer",
            1.02,
            1.10,
            "pct",
        ),  # a quotient shown with decimals is no event count
        ("newsletter_net_growth", -2, 40, "tiny_base"),  # by magnitude
    ],
)
def test_a_base_is_tiny_under_a_handful_of_events_or_a_fifth_of_the_current_value(
    kpis, kpi_id, base, actual, expected
):
    assert basis_of(kpis[kpi_id], actual, base) == expected


# ---------------------------------------------------------------- every output


def test_the_terminal_table_says_new_and_from_instead_of_a_huge_percentage(settings):
    text = render_text(card(settings), Formatter("en", "EUR"))
    assert "800" not in text
    assert re.search(r"Leads\s+9\s.*▲ from 1\s+▼ 70\.0%$", line(text, "Leads"))
    assert re.search(r"Ad impressions\s+12,000\s.*▲ new\s+–$", line(text, "Ad impressions"))
    assert re.search(
        r"Intro calls\s+9\s.*▼ 25\.0%\s+▲ from 1$", line(text, "Intro calls")
    )  # last year too
    assert re.search(r"Revenue\s.*▲ 10\.0%\s+▼ 8\.3%$", line(text, "Revenue"))


def test_markdown_and_dagsters_metadata_say_new_and_from(settings):
    text = markdown(card(settings), Formatter("en", "EUR"))
    assert line(text, "Leads").endswith("| ▲ from 1 | ▼ 70.0% |")
    assert line(text, "Ad impressions").endswith("| ▲ new | – |")
    assert line(text, "Intro calls").endswith("| ▼ 25.0% | ▲ from 1 |")
    assert line(text, "Revenue").endswith("| ▲ 10.0% | ▼ 8.3% |")
    nl = markdown(card(settings), Formatter("nl", "EUR"))
    assert (
        line(nl, "Leads").endswith("| ▲ van 1 | ▼ 70,0% |")
        and line(nl, "Advertentie").count("▲ nieuw") == 1
    )


def test_the_html_scorecard_says_new_and_from(settings):
    page = scorecard_html(card(settings), Formatter("en", "EUR"), "9.9")
    leads = re.search(r'<tr data-kpi="leads".*?</tr>', page, re.S).group(0)
    changes = re.findall(r'<span class="num (\w*)" data-basis="(\w*)">([^<]*)</span>', leads)
    assert changes == [("good", "tiny_base", "▲ from 1"), ("bad", "pct", "▼ 70.0%")]
    impressions = re.search(r'<tr data-kpi="ad_impressions".*?</tr>', page, re.S).group(0)
    assert re.findall(r'data-basis="(\w*)">([^<]*)<', impressions) == [("new", "▲ new"), ("", "–")]
    assert "800" not in page


def test_the_json_says_the_basis_of_each_change_and_keeps_the_arithmetic(settings):
    doc = json.loads(json_doc(card(settings), "en"))
    by_id = {k["kpi_id"]: k for k in doc["kpis"]}
    assert doc["version"] == 1
    leads, impressions, calls, revenue = (
        by_id[k] for k in ("leads", "ad_impressions", "intro_calls", "revenue")
    )
    assert (leads["change_basis"], leads["change_pct"]) == (
        "tiny_base",
        8.0,
    )  # 9 against 1: the plain arithmetic
    assert (leads["change_last_year_basis"], leads["change_last_year_pct"]) == ("pct", -0.7)
    assert (
        impressions["change_basis"],
        impressions["change_pct"],
        impressions["previous_actual"],
    ) == ("new", None, 0)
    assert impressions["change_last_year_basis"] is None  # no last year: nothing to compare
    assert (
        calls["change_basis"],
        calls["change_last_year_basis"],
        calls["change_last_year_pct"],
    ) == ("pct", "tiny_base", 8.0)
    assert (revenue["change_basis"], revenue["change_last_year_basis"]) == ("pct", "pct")


def test_the_reviews_biggest_movers_rank_a_tiny_base_after_every_real_percentage(settings):
    review = build_review(snapshots(), settings, AS_OF, "month", OCT[0])
    # by percentage leads (+800%) would lead; over a real base: ad clicks +40%, revenue +10%;
    # then the tiny bases by how much of the larger value moved: impressions all of it, leads 8/9
    assert [c.kpi.id for c in review.movers(True)] == ["ad_clicks", "revenue", "ad_impressions"]
    assert [c.kpi.id for c in review.movers(False)] == ["intro_calls"]
    fewer = snapshots()
    fewer = fewer[fewer["kpi_id"] != "ad_clicks"]
    review = build_review(fewer, settings, AS_OF, "month", OCT[0])
    assert [c.kpi.id for c in review.movers(True)] == ["revenue", "ad_impressions", "leads"]
    text = review_text(review, Formatter("en", "EUR"), "9.9", "markdown")
    assert (
        "| Leads | 1 | 9 | ▲ from 1 |" in text and "| Ad impressions | 0 | 12,000 | ▲ new |" in text
    )
    assert "800" not in text
    html = review_text(review, Formatter("nl", "EUR"), "9.9", "html")
    movers = re.search(r'<section id="movers-good">.*?</section>', html, re.S).group(0)
    assert re.findall(r'<tr data-kpi="(\w+)">.*?data-basis="\w*">([^<]*)<', movers) == [
        ("revenue", "▲ 10,0%"),
        ("ad_impressions", "▲ nieuw"),
        ("leads", "▲ van 1"),
    ]
