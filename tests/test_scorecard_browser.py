"""The demo's scorecard and Q3 review in headless Chromium, opened as the owner opens them: a file.

The demo business (kpi.yaml as shipped, demo mode, history from January) is synced once, with one
Google Ads campaign renamed ``<script>alert(1)</script>`` in the sandbox world. Each page must make
no request and log no console error; the numbers shown are compared with snapshots.kpi_snapshots
read here with plain SQL, the text parsed back to a number by a regex of its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import expect  # noqa: E402

from connectors.sandbox import marketing_world
from tests.browser import ARTIFACTS, chromium  # skips the module without Chromium
from tests.conftest import AS_OF
from tests.demo_folder import demo_business, dutch_copy

HISTORY_START = dt.date(
    2026, 6, 1
)  # June, then the reviewed Q3: the year goal names the months without data
HOSTILE = "<script>alert(1)</script>"
CAMPAIGN_ID = "987654321"  # Google Ads "Search - Brand"


@pytest.fixture(scope="module")
def demo(sandbox, tmp_path_factory):
    """The shipped kpi.yaml (demo mode) synced through AS_OF, and its Q3 review written; also a
    Dutch copy of the configuration over the same warehouse."""
    from kpi_pipeline.cli.main import main
    from kpi_pipeline.config.settings import load_config

    folder = tmp_path_factory.mktemp("demo")
    mp = pytest.MonkeyPatch()
    text = demo_business(mp, sandbox, folder, HISTORY_START)
    dutch_copy(folder, text)
    ads = (
        sandbox.world.ads
    )  # the cached world the demo's sandbox serves: renamed for this module only
    original = list(ads.rows)
    ads.rows[:] = [
        dataclasses.replace(r, campaign=HOSTILE) if r.campaign_id == CAMPAIGN_ID else r
        for r in original
    ]
    # the platforms report a campaign's current name for every day: the owner renamed it long ago
    mp.setitem(
        marketing_world.RENAMES,
        ("google", CAMPAIGN_ID),
        [(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), HOSTILE)],
    )
    try:
        args = ["--config", str(folder / "kpi.yaml"), "--as-of", AS_OF.isoformat()]
        assert main(["sync", *args, "--start", HISTORY_START.isoformat()]) == 0
        assert main(["review", *args, "--period", "2026-Q3"]) == 0
        nl = ["--config", str(folder / "nl" / "kpi.yaml"), "--as-of", AS_OF.isoformat()]
        assert (
            main(["report", *nl, "--format", "html", "--output", str(folder / "scorecard-nl.html")])
            == 0
        )
        yield load_config(folder / "kpi.yaml"), folder
    finally:
        ads.rows[:] = original
        mp.undo()


@pytest.fixture(scope="module")
def browser(demo):
    with chromium() as browser:
        yield browser


class Opened:
    """A page opened from a file, with what it asked for and what it logged."""

    def __init__(self, browser, path: Path, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)

    def check_quiet(self) -> None:
        assert self.requests == [self.url], (
            f"the page asked for more than itself: {self.requests[:5]}"
        )
        assert not self.errors and not self.dialogs, (self.errors, self.dialogs)

    def shot(self, name: str, full: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full)
        return path

    def pdf_pages(self) -> int:
        pdf = self.page.pdf(format="A4", print_background=True)
        ARTIFACTS.mkdir(exist_ok=True)  # in any order: a test may print before any screenshot
        (ARTIFACTS / "last.pdf").write_bytes(pdf)
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def snapshots(settings, grain: str, start: dt.date) -> dict[str, tuple]:
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = con.execute(
        "select kpi_id, status, actual, target from snapshots.kpi_snapshots "
        "where grain = ? and period_start = ?",
        [grain, start],
    ).fetchall()
    con.close()
    return {kpi: (status, actual, target) for kpi, status, actual, target in rows}


def number(text: str) -> float:
    """'€2,926.22' -> 2926.22, '30.2%' -> 0.302, '1,234' -> 1234 (English formats)."""
    digits = re.sub(r"[^\d.\-]", "", text)
    value = float(digits)
    return value / 100 if text.strip().endswith("%") else value


def decimals(text: str) -> int:
    match = re.search(r"\.(\d+)", text)
    return len(match.group(1)) if match else 0


def test_the_scorecard_shows_every_kpi_with_its_snapshot_status_and_numbers(demo, browser):
    settings, _ = demo
    opened = Opened(browser, settings.reports_dir / "scorecard.html")
    page = opened.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Studio Lumen · Scorecard")
    expect(page.get_by_text("as of 15 November 2026").first).to_be_visible()
    expect(page.get_by_role("note").first).to_contain_text("Demo data")
    for grain, start in (
        ("month", dt.date(2026, 11, 1)),
        ("quarter", dt.date(2026, 10, 1)),
        ("year", dt.date(2026, 1, 1)),
    ):
        page.locator(f"label[for=view-{grain}]").click()
        view = page.locator(f"section.view-{grain}")
        expect(view).to_be_visible()
        truth = snapshots(settings, grain, start)
        with_target = {k for k, (_, _, target) in truth.items() if target is not None}
        rows = view.locator("tr[data-kpi]")
        shown = {rows.nth(i).get_attribute("data-kpi"): rows.nth(i) for i in range(rows.count())}
        assert with_target <= set(shown), with_target - set(shown)
        assert len(with_target) >= (25 if grain != "year" else 10)
        for kpi, row in shown.items():
            status, actual, target = truth[kpi]
            assert row.get_attribute("data-status") == status, kpi
            chip = row.locator(".chip")
            assert chip.get_attribute(
                "data-status"
            ) == status and chip.inner_text().strip() == status.replace("_", " "), kpi
            cells = row.locator("td")
            shown_actual = cells.nth(1).inner_text()
            if actual is None:
                assert shown_actual == "–", kpi
            else:
                places = decimals(shown_actual) + (2 if shown_actual.endswith("%") else 0)
                assert number(shown_actual) == pytest.approx(
                    round(actual, places), abs=10**-places / 2
                ), kpi
            if target is not None:
                assert number(cells.nth(2).inner_text()) == pytest.approx(target), kpi
        opened.shot(f"scorecard-{grain}")
    opened.check_quiet()


def test_a_campaign_named_like_a_script_is_shown_as_text(demo, browser):
    settings, _ = demo
    opened = Opened(browser, settings.reports_dir / "scorecard.html")
    cell = opened.page.locator("section.view-month .breakdown td", has_text=HOSTILE)
    expect(cell.first).to_be_visible()
    assert opened.page.locator("script").count() == 0
    opened.check_quiet()  # and no alert() dialog opened


def test_the_scorecard_prints_on_two_a4_pages_a_view_and_fits_a_phone(demo, browser):
    settings, _ = demo
    opened = Opened(browser, settings.reports_dir / "scorecard.html")
    assert opened.pdf_pages() <= 2 * 3  # every view printed (month, quarter, year): two pages each
    opened.shot("scorecard-readme", full=False)
    phone = Opened(browser, settings.reports_dir / "scorecard.html", width=390, height=844)
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    expect(phone.page.locator("section.view-month tr[data-kpi=revenue]")).to_be_visible()
    phone.shot("scorecard-phone")
    opened.check_quiet()
    phone.check_quiet()


def test_the_q3_review_in_the_browser(demo, browser):
    settings, _ = demo
    opened = Opened(browser, settings.reports_dir / "review-2026-Q3.html")
    page = opened.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Studio Lumen · Review Q3 2026")
    truth = snapshots(settings, "quarter", dt.date(2026, 7, 1))
    achieved = {k for k, (status, _, _) in truth.items() if status == "achieved"}
    missed = {k for k, (status, _, _) in truth.items() if status == "missed"}
    shown = page.locator("#achieved tr[data-kpi]")
    assert {shown.nth(i).get_attribute("data-kpi") for i in range(shown.count())} == achieved
    shown = page.locator("#missed tr[data-kpi]")
    assert {shown.nth(i).get_attribute("data-kpi") for i in range(shown.count())} == missed
    expect(page.locator("#year")).to_contain_text("The year's goal 2026")
    expect(page.locator("#next")).to_contain_text("Targets for Q4 2026")
    assert opened.pdf_pages() <= 3
    opened.shot("review-2026-Q3")
    opened.check_quiet()


def test_the_dutch_scorecard(demo, browser):
    _, folder = demo
    opened = Opened(browser, folder / "scorecard-nl.html")
    page = opened.page
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_text("stand op 15 november 2026").first).to_be_visible()
    expect(page.get_by_role("heading", name="Verkoop").first).to_be_visible()
    revenue = page.locator("section.view-month tr[data-kpi=revenue] td").nth(1).inner_text()
    assert re.fullmatch(r"€\xa0\d{1,3}(\.\d{3})*,\d{2}", revenue), revenue
    opened.shot("scorecard-nl")
    opened.check_quiet()
