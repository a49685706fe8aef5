"""What the review says, in English and Dutch, from snapshot rows written here by hand: an open
period speaks of projections (on course to achieve, projected to miss), a closed one of achieved and
missed; every KPI without data is named with its reason; the movers are good news and bad news in
each KPI's direction (fewer sick days is good news); the year table keeps end-of-period figures and
as-of figures in two labelled columns.

The expected words are spelled out literally here, the statuses and numbers come from the rows.
"""

import datetime as dt
import html
import re
from html.parser import HTMLParser

import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.reporting.html import review_text
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.review import build_review
from tests.snapshot_rows import AS_OF, frame, month, revenue_year, row

WORDS = {  # language: the words a reader must find
    "en": {
        "open": ("On course to achieve", "Projected to miss"),
        "closed": ("Achieved", "Missed"),
        "intro_open": "1 of 3 KPIs with a target on course to achieve, 2 projected to miss.",
        "intro_closed": "1 of 2 KPIs with a target achieved, 1 missed.",
        "no_data": "No data",
        "reason": "no data: nothing entered in the CSV for this KPI yet",
        "good": "Biggest changes for the better",
        "bad": "Biggest changes for the worse",
        "end_of": "End of Q3 2026",
        "as_of": "As of 15 Nov 2026",
    },
    "nl": {
        "open": ("Op koers om te behalen", "Naar verwachting niet behaald"),
        "closed": ("Behaald", "Niet behaald"),
        "intro_open": "1 van 3 KPI's met een doel op koers om te behalen, "
        "2 naar verwachting niet behaald.",
        "intro_closed": "1 van 2 KPI's met een doel behaald, 1 niet behaald.",
        "no_data": "Geen gegevens",
        "reason": "geen gegevens: nog niets ingevuld in de CSV voor deze KPI",
        "good": "Grootste verbeteringen",
        "bad": "Grootste verslechteringen",
        "end_of": "Eind Q3 2026",
        "as_of": "Stand op 15 nov 2026",
    },
}


@pytest.fixture(scope="module")
def settings():
    return load_config("kpi.yaml")


def month_rows(m: int) -> list[dict]:
    """Month ``m`` of 2026 (November is open as of AS_OF): revenue on track at 78% of its target,
    leads at risk, intro calls off track (in October: achieved, missed), staff sick days down from
    12 to 9 (good news: direction lower), leads down from 300 to 250 (bad news), and treatments
    performed without data (the CSV has none)."""
    start, end = month(m)
    open_ = m == 11
    rows = [
        row("revenue", "month", start, end, 9360.0, 12000.0, "on_track" if open_ else "achieved"),
        row("leads", "month", start, end, 250.0, 400.0, "at_risk" if open_ else "missed"),
        row("staff_sick_days", "month", start, end, 9.0, None, "no_target"),
        row(
            "treatments_performed",
            "month",
            start,
            end,
            None,
            300.0,
            "no_data",
            status_reason="manual/metrics: the CSV has no rows for treatments_performed",
        ),
    ]
    if open_:
        rows.append(row("intro_calls", "month", start, end, 10.0, 50.0, "off_track"))
    rows[0].update(projected=12480.0)  # 9,360 by the 15th
    rows[1].update(previous_actual=300.0, change_pct=-50 / 300)
    rows[2].update(previous_actual=12.0, change_pct=-3 / 12)
    return rows


class Sections(HTMLParser):
    """The review's HTML as {section id: (heading text, [row texts])}, every cell's text kept."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.sections: dict[str, tuple[str, list[list[str]]]] = {}
        self.cells: dict[str, dict[str, str]] = {}  # kpi -> data-column -> text (year table)
        self.section = self.kpi = self.column = None
        self.text: list[str] | None = None
        self.heading: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "id" in a:
            self.section = a["id"]
            self.sections[self.section] = ("", [])
        elif tag == "h2" and self.section:
            self.heading = []
        elif tag == "tr" and self.section:
            self.kpi = a.get("data-kpi")
            self.sections[self.section][1].append([])
        elif tag in ("td", "th") and self.section:
            self.text, self.column = [], a.get("data-column")

    def handle_endtag(self, tag):
        if tag == "h2" and self.heading is not None:
            heading = " ".join("".join(self.heading).split())
            self.sections[self.section] = (heading, self.sections[self.section][1])
            self.heading = None
        elif tag in ("td", "th") and self.text is not None:
            text = " ".join("".join(self.text).split())
            self.sections[self.section][1][-1].append(text)
            if self.column and tag == "td" and self.kpi:
                self.cells.setdefault(self.kpi, {})[self.column] = text
            self.text = None
        elif tag == "section":
            self.section = None

    def handle_data(self, data):
        for part in (self.heading, self.text):
            if part is not None:
                part.append(data)


def kpis_in(page: Sections, section: str) -> set[str]:
    return {cells[0] for cells in page.sections[section][1] if cells and cells[0] != "KPI"}


def markdown_section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {heading!r} in\n{text}"
    return match.group(1)


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("m", [10, 11])
def test_an_open_period_speaks_of_projections_a_closed_one_of_verdicts(settings, language, m):
    words = WORDS[language]
    review = build_review(
        frame(month_rows(m - 1) + month_rows(m)), settings, AS_OF, "month", dt.date(2026, m, 1)
    )
    fmt = Formatter(language, "EUR")
    label = {k.id: k.label_in(language) for k in settings.kpis()}
    on_course, to_miss = words["open" if m == 11 else "closed"]
    page = Sections(review_text(review, fmt, "9.9", "html"))
    assert page.sections["achieved"][0].startswith(on_course)
    assert page.sections["missed"][0].startswith(to_miss)
    assert kpis_in(page, "achieved") == {label["revenue"]}  # at 78%: on track, not achieved
    missed = {label["leads"]} | ({label["intro_calls"]} if m == 11 else set())
    assert kpis_in(page, "missed") == missed
    intro = words["intro_open" if m == 11 else "intro_closed"]
    text = review_text(review, fmt, "9.9", "markdown")
    assert intro in text and intro in html.unescape(review_text(review, fmt, "9.9", "html"))
    assert f"## {on_course} (1)" in text and f"## {to_miss} ({len(missed)})" in text
    if m == 11:  # the closed period's words are not used for an open one
        closed = WORDS[language]["closed"]
        assert f"## {closed[0]} (" not in text and f"## {closed[1]} (" not in text


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_kpi_without_data_is_named_with_its_reason(settings, language):
    words = WORDS[language]
    review = build_review(frame(month_rows(11)), settings, AS_OF, "month", dt.date(2026, 11, 1))
    fmt = Formatter(language, "EUR")
    name = {k.id: k.label_in(language) for k in settings.kpis()}["treatments_performed"]
    page = Sections(review_text(review, fmt, "9.9", "html"))
    heading, rows = page.sections["no-data"]
    assert heading.startswith(words["no_data"]) and [name, words["reason"]] in rows
    text = review_text(review, fmt, "9.9", "markdown")
    named = markdown_section(text, words["no_data"]).replace("\\", "")  # Markdown's escapes
    assert f"- {name}: {words['reason']}" in named


@pytest.mark.parametrize("language", ["en", "nl"])
def test_movers_are_good_news_and_bad_news_in_the_kpis_direction(settings, language):
    """Staff sick days 12 -> 9 (direction lower) is good news; leads 300 -> 250 is bad news."""
    words = WORDS[language]
    review = build_review(
        frame(month_rows(10) + month_rows(11)), settings, AS_OF, "month", dt.date(2026, 11, 1)
    )
    fmt = Formatter(language, "EUR")
    label = {k.id: k.label_in(language) for k in settings.kpis()}
    page = Sections(review_text(review, fmt, "9.9", "html"))
    assert page.sections["movers-good"][0] == words["good"]
    assert page.sections["movers-bad"][0] == words["bad"]
    assert kpis_in(page, "movers-good") == {label["staff_sick_days"]}
    assert kpis_in(page, "movers-bad") == {label["leads"]}
    text = review_text(review, fmt, "9.9", "markdown")
    assert label["staff_sick_days"] in markdown_section(text, words["good"])
    assert label["staff_sick_days"] not in markdown_section(text, words["bad"])
    assert label["leads"] in markdown_section(text, words["bad"])


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_year_table_keeps_end_of_period_and_as_of_figures_apart(settings, language):
    """Q3's review as of 15 November: revenue (a sum) stands at the end of Q3, the open rate (a
    ratio, the year's snapshot) as of 15 November: one labelled column each."""
    words = WORDS[language]
    rows = revenue_year(settings) + [
        row("email_open_rate", "quarter", dt.date(2026, 7, 1), dt.date(2026, 9, 30), 0.31, 0.35),
        row("email_open_rate", "year", dt.date(2026, 1, 1), dt.date(2026, 12, 31), 0.32, 0.35),
    ]
    review = build_review(frame(rows), settings, AS_OF, "quarter", dt.date(2026, 7, 1))
    fmt = Formatter(language, "EUR")
    q3_revenue = sum(10000.0 + 500 * m for m in range(1, 10))  # Jan..Sep
    shown_revenue = " ".join(fmt.money(q3_revenue).split())  # as the parser reads it
    page = Sections(review_text(review, fmt, "9.9", "html"))
    header = page.sections["year"][1][0]
    assert header[1:3] == [words["end_of"], words["as_of"]], header
    assert page.cells["revenue"] == {"2026-09-30": shown_revenue, "2026-11-15": "–"}
    assert page.cells["email_open_rate"] == {"2026-09-30": "–", "2026-11-15": fmt.percent(0.32)}
    text = review_text(review, fmt, "9.9", "markdown")
    revenue = {k.id: k.label_in(language) for k in settings.kpis()}["revenue"]
    assert f"| {words['end_of']} | {words['as_of']} |" in text
    assert f"| {revenue} | {shown_revenue} | – |" in text
