"""The scorecard's views and their HTML, Markdown and JSON, from snapshot rows written here by hand.

Expected values are spelled out literally (or computed from the rows by simple arithmetic),
never taken from the reporting code.
"""

import datetime as dt
import json
import re

import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.kpi.scorecard import NOTHING_TO_DIVIDE
from kpi_pipeline.reporting.html import review_text, scorecard_html, sparkline
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.markdown import markdown
from kpi_pipeline.reporting.model import Point, Scorecard, build_views, json_doc
from kpi_pipeline.reporting.review import build_review
from tests.snapshot_rows import AS_OF, frame, month, revenue_year, row

HOSTILE = (
    "**Bold** <script>alert(1)</script> [click](http://evil.example) | cell\n"
    "next `code` _x_ &lt; #1"
)


@pytest.fixture(scope="module")
def settings():
    return load_config("kpi.yaml")


def test_views_group_kpis_by_domain_with_twelve_periods_of_trend(settings):
    rows = revenue_year(settings)
    start, end = month(10)
    rows.append(row("email_open_rate", "month", start, end, 0.3, 0.35, "missed"))
    rows.append(row("staff_sick_days", "month", *month(11), 2.0, 5.0, "on_track"))
    views = build_views(frame(rows), settings, AS_OF, ("month", "quarter"))
    month_view, quarter_view = views
    assert month_view.period == "2026-11" and [s.domain for s in month_view.sections] == [
        "sales",
        "hr",
    ]
    revenue = month_view.sections[0].cards[0]
    assert [p.period for p in revenue.history] == [
        f"2026-{m:02d}" for m in range(1, 12)
    ]  # 11 months exist
    assert revenue.history[-1].actual == 6000.0 and revenue.history[0].target == 12000.0
    assert month_view.counts() == {
        "off_track": 1,
        "on_track": 1,
    }  # October's open rate is not November's
    assert quarter_view.period == "2026-Q4" and quarter_view.cards[0].actual == 15000 + 6000


def test_the_sparkline_scales_to_its_values_and_ends_at_an_open_periods_projection():
    points = [Point(str(i), float(v), 10.0) for i, v in enumerate([5, 10, 15])]
    spark = sparkline(points, is_open=False)
    coords = [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+) ([\d.]+)", spark.line)]
    assert coords[0][1] > coords[1][1] > coords[2][1]  # higher values are higher up
    assert coords[0][1] == 32 - 3 and coords[2][1] == 3  # lowest at the bottom, highest at the top
    assert spark.dots == [(coords[2][0], coords[2][1], False)] and spark.projection == ""
    points[-1] = Point("2", 4.0, 10.0, projected=15.0)  # half-way: 4 so far, projected 15
    spark = sparkline(points, is_open=True)
    assert (
        len(re.findall(r"[ML]", spark.line)) == 2
    )  # the closed periods only: no dip to the to-date value
    assert spark.projection == f"M{coords[1][0]} {coords[1][1]}L{coords[2][0]} 3.0"
    assert spark.dots == [(coords[2][0], 3.0, True)]
    assert sparkline(points[:1], is_open=False) is None  # one point is not a trend


def scorecard(settings, rows, grains=("month", "quarter", "year"), **kw):
    return Scorecard(
        kw.get("business", settings.business),
        AS_OF,
        True,
        "EUR",
        build_views(frame(rows), settings, AS_OF, grains),
        {"stripe": AS_OF, "mailchimp": AS_OF - dt.timedelta(days=3)},
    )


def test_the_html_scorecard_shows_every_view_status_bar_change_and_trend(settings):
    rows = revenue_year(settings)
    rows.append(
        row(
            "newsletter_churn_rate",
            "month",
            *month(11),
            None,
            0.02,
            "no_data",
            status_reason=NOTHING_TO_DIVIDE,
        )
    )
    page = scorecard_html(scorecard(settings, rows), Formatter("en", "EUR"), "9.9")
    assert page.count('<section class="view') == 3 and 'data-grain="year"' in page
    nov = re.search(r'<tr data-kpi="revenue" data-status="off_track">.*?</tr>', page, re.S).group(0)
    assert "€6,000.00" in nov and "€12,000.00" in nov and "off track" in nov and "<svg" in nov
    assert (
        'style="width:50.0%"' in nov and 'style="left:50.0%"' in nov
    )  # half the target, half the month
    assert "Demo data" in page and "Mailchimp: only through 12 Nov 2026" in page
    assert "no data: nothing to divide by in this period" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "<script" not in page
    assert "<link" not in page and "@import" not in page and "url(" not in page  # nothing to fetch


def test_the_html_scorecard_in_dutch(settings):
    page = scorecard_html(
        scorecard(settings, revenue_year(settings)), Formatter("nl", "EUR"), "9.9"
    )
    assert '<html lang="nl">' in page and "stand op 15 november 2026" in page and "Verkoop" in page
    assert "€\xa06.000,00" in page and "niet op koers" in page and "Omzet" in page


def test_strings_from_config_and_platforms_stay_text_in_html_and_markdown(settings):
    from markdown_it import MarkdownIt

    hostile = settings.model_copy(update={"business": HOSTILE})
    card = scorecard(hostile, revenue_year(settings), grains=("month",), business=HOSTILE)
    from kpi_pipeline.reporting.model import Breakdown

    kpi = {k.id: k for k in settings.kpis()}
    card.breakdowns = {
        "month": [Breakdown(kpi["ad_spend"], "campaign", [("<script>alert(1)</script>", 10.0)])]
    }
    page = scorecard_html(card, Formatter("en", "EUR"), "9.9")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = markdown(card, Formatter("en", "EUR"))
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    for tag in ("<em>", "<code>", "<a ", "<script"):
        assert tag not in rendered
    review = build_review(
        frame(revenue_year(settings)), hostile, AS_OF, "quarter", dt.date(2026, 7, 1)
    )
    md = review_text(review, Formatter("en", "EUR"), "9.9", "markdown")
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in rendered and "<a " not in rendered and "&lt;script&gt;" in rendered
    assert "<script>" not in review_text(review, Formatter("en", "EUR"), "9.9", "html")


LABEL = (
    "Revenue | fake cell *bold* _em_ <script>alert(1)</script>\nnext [link](http://evil.example)"
)


def test_a_hostile_kpi_label_stays_text_in_the_markdown_the_dagster_ui_shows(settings):
    """The scorecard the snapshots asset puts in Dagster's metadata, with a label from kpi.yaml that
    holds a cell separator, emphasis, HTML, a link and a line break: every row keeps its 7 cells."""
    from markdown_it import MarkdownIt

    card = scorecard(settings, revenue_year(settings), grains=("month",))
    first = card.views[0].sections[0].cards[0]
    first.kpi = first.kpi.model_copy(update={"label": LABEL})
    text = markdown(card, Formatter("en", "EUR"))
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    cells, rows = 0, []
    for token in tokens:
        if token.type == "tr_open":
            cells = 0
        elif token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            rows.append(cells)
    assert len(rows) >= 2 and set(rows) == {7}  # the header and every KPI row: 7 cells
    # a renderer drops a row's excess cells silently: the separators are counted in the text itself
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in table_lines} == {8}
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    for tag in ("<em>", "<a ", "<script"):
        assert tag not in rendered
    assert rendered.count("<strong>") == 1  # the view's own summary line only
    assert (
        "<td>Revenue | fake cell *bold* _em_ &lt;script&gt;alert(1)&lt;/script&gt; next "
        "[link](http://evil.example)</td>"
    ) in rendered  # the label, shown as typed, in its one cell


def test_the_json_format_is_rounded_and_says_currency_change_and_reason(settings):
    rows = revenue_year(settings)
    rows.append(
        row(
            "intro_calls",
            "month",
            *month(11),
            23.0,
            50.0,
            "off_track",
            projected=46.466,
            previous_actual=20.0,
            change_pct=0.15,
            last_year_actual=25.0,
        )
    )
    rows.append(
        row(
            "newsletter_churn_rate",
            "month",
            *month(11),
            None,
            0.02,
            "no_data",
            status_reason=NOTHING_TO_DIVIDE,
        )
    )
    doc = json.loads(json_doc(scorecard(settings, rows, grains=("month",)), "en"))
    assert doc["version"] == 1 and doc["currency"] == "EUR" and doc["as_of"] == "2026-11-15"
    by_id = {k["kpi_id"]: k for k in doc["kpis"]}
    calls = by_id["intro_calls"]
    assert (
        calls["projected"] == 46
        and calls["change_pct"] == 0.15
        and calls["change_last_year_pct"] == -0.08
    )
    assert (
        calls["currency"] is None
        and by_id["revenue"]["currency"] == "EUR"
        and by_id["revenue"]["actual"] == 6000.0
    )
    assert by_id["newsletter_churn_rate"]["status_reason"] == NOTHING_TO_DIVIDE
    assert doc["sources"] == {"stripe": "2026-11-15", "mailchimp": "2026-11-12"}


def test_an_actual_just_short_of_its_target_does_not_read_the_same(settings):
    rows = [
        row("email_click_rate", "month", *month(10), 0.0598, 0.06, "missed"),
        row("email_open_rate", "month", *month(10), 0.30, 0.35, "missed"),
    ]
    views = build_views(frame(rows), settings, AS_OF, ("month",), {"month": dt.date(2026, 10, 1)})
    card = Scorecard(settings.business, AS_OF, False, "EUR", views, {})
    text = markdown(card, Formatter("en", "EUR"))
    assert "| Email click rate | 5.98% | 6.00% |" in text  # not "6.0% | 6.0% | missed"
    assert "| Email open rate | 30.0% | 35.0% |" in text  # one decimal when that tells them apart


def test_a_no_data_reason_wraps_within_the_kpi_column_of_the_terminal(settings):
    """A long no-data reason does not widen the KPI column past the view's longest KPI name: it
    wraps under the name, and the figures stay beside it."""
    from kpi_pipeline.reporting.terminal import render_text

    reason = "not entered yet: the CSV has this KPI through 16 Nov 2026 " * 2
    rows = [
        row("staff_sick_days", "month", *month(11), None, 5.0, "no_data", status_reason=reason),
        row("revenue", "month", *month(11), 6000.0, 12000.0, "on_track"),
    ]
    (view,) = build_views(frame(rows), settings, AS_OF, ("month",))
    card = Scorecard("Studio Lumen", AS_OF, False, "EUR", [view], {})
    text = render_text(card, Formatter("en", "EUR"))
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Staff sick days"))
    header, sick = lines[at - 2], lines[at]  # the HR table's header, above its rule
    assert header.index("Actual") < 60, header  # not as wide as the 118-character reason
    assert "–" in sick and "at most 5" in sick  # the figures on the name's line
    assert all(len(line) < 110 for line in lines if "not entered yet" in line or "CSV" in line)


def test_a_reason_in_html_stays_text_and_keeps_its_commands_on_one_line():
    """A reason is escaped like every other text, and a word with hyphens ("--history") is kept on
    one line: a browser may break after a hyphen, leaving "--" at a line's end on a phone."""
    from kpi_pipeline.reporting.html import whole_words

    html = str(whole_words("run kpi sync --history <script>x</script> for 2026-Q4"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<span class="nw">--history</span>' in html
    assert '<span class="nw">2026-Q4</span>' in html
