"""The scorecard, the review and the portfolio page as people read them away from a desktop: printed
by Chromium on A4 with its default settings (background graphics off), and on a 390 px phone.

Printed: no two characters overprint, every progress bar the page shows is in the PDF as a filled
shape of its status colour (a background would vanish), and every view of the scorecard is printed.
Read with pdfplumber, not with the code under test. On a phone: no sideways scroll, each KPI's card
(a table row) uses the full width, and no word is broken inside (a word's Range has one line box).

The demo business (kpi.yaml as shipped) is synced once for the module; the portfolio page is
rendered from rows written here (six businesses, every domain, long KPI names).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pdfplumber
import pytest

from kpi_pipeline.reporting.portfolio import BusinessRow, Freshness, portfolio_html
from tests.browser import chromium  # skips the module without Chromium
from tests.conftest import AS_OF
from tests.demo_folder import demo_business

SHOTS = Path(__file__).resolve().parent / "artifacts"
PHONE = {"width": 390, "height": 844}
# the bars' fills (templates/scorecard.html.j2): on track / achieved, at risk, off track / missed,
# and the grey of a KPI not judged
BAR_COLOURS = {(0x1B, 0x7F, 0x3B), (0xC9, 0x8A, 0x12), (0xB3, 0x26, 0x1E), (0x5F, 0x63, 0x68)}


@pytest.fixture(scope="module")
def pages(sandbox, tmp_path_factory):
    """The demo synced through AS_OF: its scorecard, Q3's review, November's (open) review; and a
    portfolio page of six businesses."""
    from kpi_pipeline.cli.main import main
    from kpi_pipeline.config.settings import load_config

    folder = tmp_path_factory.mktemp("print")
    mp = pytest.MonkeyPatch()
    demo_business(mp, sandbox, folder, dt.date(2026, 6, 1))
    try:
        args = ["--config", str(folder / "kpi.yaml"), "--as-of", AS_OF.isoformat()]
        assert main(["sync", *args, "--start", "2026-06-01"]) == 0
        assert main(["review", *args, "--period", "2026-Q3"]) == 0
        assert main(["review", *args, "--period", "2026-11"]) == 0
        reports = load_config(folder / "kpi.yaml").reports_dir
        portfolio = folder / "portfolio.html"
        portfolio.write_text(portfolio_html(portfolio_rows(), "month", "9.9", portfolio))
        yield {
            "scorecard": reports / "scorecard.html",
            "review": reports / "review-2026-Q3.html",
            "review-open": reports / "review-2026-11.html",
            "portfolio": portfolio,
        }
    finally:
        mp.undo()


def portfolio_rows() -> list[BusinessRow]:
    names = ["Studio Lumen", "Harbour Goods", "Kapsalon De Schaar", "Northwind Physiotherapy"]
    rows = [
        BusinessRow(
            slug=name.lower().replace(" ", "_"),
            business=name,
            as_of=AS_OF.isoformat(),
            period="2026-11",
            counts={
                d: {"on_track": 12 - i, "at_risk": i, "off_track": 2 * i}
                for d in ("marketing", "sales", "production", "customer_service", "hr")
            },
            off_track_twice=["Email click-to-open rate", "Instagram follower growth rate"][:i],
            freshness=[Freshness("google_ads", "2026-11-12", 3), Freshness("stripe", None, None)],
        )
        for i, name in enumerate(names)
    ]
    rows.append(
        BusinessRow(
            slug="broken_bakery",
            business="Broken Bakery",
            problem="kpi.yaml: targets.revenue.month.2026-13: not a month",
        )
    )
    return rows


@pytest.fixture(scope="module")
def browser(pages):
    with chromium() as browser:
        yield browser


def opened(browser, path: Path, viewport: dict | None = None):
    page = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}).new_page()
    page.goto(path.resolve().as_uri())
    return page


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def overprints(chars: list[dict]) -> list[str]:
    """Pairs of characters on one page whose boxes overlap by more than a third of the narrower
        one's width and half the lower one's height: text printed over text (two neighbours in the
    drawing order, one word's letters, may touch: kerning)."""
    found = []
    order = {id(c): n for n, c in enumerate(chars)}  # the order the PDF draws them in
    chars = sorted((c for c in chars if c["text"].strip()), key=lambda c: c["x0"])
    for i, a in enumerate(chars):
        for b in chars[i + 1 :]:
            if b["x0"] >= a["x1"]:
                break
            if abs(order[id(a)] - order[id(b)]) == 1:
                continue  # neighbours in one word: kerning ("Tr"), not overprinting
            wide = min(a["x1"], b["x1"]) - b["x0"]
            high = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            narrow = min(a["x1"] - a["x0"], b["x1"] - b["x0"])
            if wide > narrow / 3 and high > min(a["height"], b["height"]) / 2:
                found.append(f"{a['text']}/{b['text']} at ({a['x0']:.0f}, {a['top']:.0f})")
    return found


def rgb(colour) -> tuple[int, ...] | None:
    if colour is None or not isinstance(colour, (tuple, list)) or len(colour) != 3:
        return None
    return tuple(round(float(v) * 255) for v in colour)


def printed_bars(pdf: pdfplumber.PDF) -> int:
    """Filled shapes of a bar's colour and a bar's height (2 to 8 pt): the bars the paper shows."""
    count = 0
    for page in pdf.pages:
        for shape in page.rects + page.curves:
            if not shape.get("fill") or not 2 <= shape["height"] <= 8 or shape["width"] < 0.5:
                continue
            colour = rgb(shape.get("non_stroking_color"))
            if colour and any(
                max(abs(x - y) for x, y in zip(colour, c, strict=True)) <= 3 for c in BAR_COLOURS
            ):
                count += 1
    return count


def print_pdf(page, name: str) -> pdfplumber.PDF:
    """A4 with Chromium's defaults: background graphics off (print_background not set)."""
    page.emulate_media(media="print")
    data = page.pdf(format="A4")
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / f"{name}.pdf").write_bytes(data)
    return pdfplumber.open(io.BytesIO(data))


@pytest.mark.parametrize(
    "name, tab", [("scorecard", "year"), ("scorecard", "quarter"), ("review", None)]
)
def test_printed_with_default_settings_nothing_overprints_and_every_bar_shows(
    pages, browser, name, tab
):
    page = opened(browser, pages[name])
    if tab:
        page.locator(f"label[for=view-{tab}]").click()
    pdf = print_pdf(page, f"print-{name}-{tab or 'page'}")
    bars = page.evaluate(
        "[...document.querySelectorAll('.progress i')]"
        ".filter(i => i.getBoundingClientRect().width >= 1).length"
    )
    problems = [f"page {n + 1}: {o}" for n, p in enumerate(pdf.pages) for o in overprints(p.chars)]
    assert not problems, f"{len(problems)} overprinted characters: {problems[:10]}"
    assert printed_bars(pdf) >= bars, f"{printed_bars(pdf)} bars printed of {bars} shown"
    if name == "scorecard":  # every view on paper, whichever tab was open
        printed = " ".join(p.extract_text() for p in pdf.pages)
        for title in ("Month November 2026", "Quarter Q4 2026", "Year 2026"):
            assert title in printed, title
        assert bars >= 60  # three views of about 25 KPIs with a target
    first = pdf.pages[0].to_image(resolution=80)
    SHOTS.mkdir(exist_ok=True)
    first.save(str(SHOTS / f"print-{name}-{tab or 'page'}-1.png"))


WORD_BREAKS = """() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.textContent.matchAll(/[^\\s\\u00a0\\u202f]+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
        .map(r => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  return broken;
}"""


BREAKABLE = """() => [...document.body.querySelectorAll('*')]
  .filter(e => e.getClientRects().length && e.textContent.trim())
  .filter(e => { const s = getComputedStyle(e);
    return s.overflowWrap === 'anywhere' || ['break-all', 'break-word'].includes(s.wordBreak); })
  .map(e => e.tagName + '.' + e.className + ': ' + e.textContent.trim().slice(0, 30))"""


@pytest.mark.parametrize(
    "name, cards",
    [
        ("scorecard", "section.view-month table.kpis tr[data-kpi]"),
        ("review", "tr[data-kpi]"),
        ("review-open", "tr[data-kpi]"),
        ("portfolio", "tbody tr"),
    ],
)
def test_on_a_phone_no_sideways_scroll_full_width_cards_and_whole_words(
    pages, browser, name, cards
):
    page = opened(browser, pages[name], PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a 390px phone"
    body = page.evaluate(
        "(() => { const s = getComputedStyle(document.body);"
        " return document.body.clientWidth - parseFloat(s.paddingLeft)"
        " - parseFloat(s.paddingRight); })()"
    )
    widths = page.locator(cards).evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect().width)"
    )
    assert len(widths) >= 3
    narrow = [w for w in widths if w < 0.9 * body]
    assert not narrow, (
        f"{len(narrow)} of {len(widths)} cards narrower than 90% of {body}px: {narrow[:5]}"
    )
    broken = page.evaluate(WORD_BREAKS)
    assert not broken, f"words broken across lines: {broken[:10]}"
    anywhere = page.evaluate(BREAKABLE)
    assert not anywhere, f"elements whose words may break anywhere: {anywhere[:5]}"
    shot(page, f"phone-{name}")
