"""The Dagster UI in a real browser: `dagster dev` on a free port over a synced DAGSTER_HOME, and
headless Chromium (Debian's, driven by Playwright) checks what an operator looks for: the asset
groups, the nightly schedule, the per-model checks, the scorecard in the snapshots' metadata, each
KPI's verdict as a check of the snapshots and the `kpi sync` run, launched by "kpi sync".
Screenshots land in tests/artifacts/ (not in git).

Every wait is for something to appear, bounded generously: a slow machine only makes it slower.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect  # noqa: E402

from tests.browser import ARTIFACTS, WAIT_MS, chromium  # skips the module without Chromium
from tests.conftest import AS_OF, live_environment, subset_config
from tests.processes import free_port, wait_until

BOUND = 300.0  # seconds for the UI server to come up: a hang, not a slow machine


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def ui(sandbox, tmp_path_factory):
    """A business synced once (Stripe and Mailchimp, an unreachable revenue target), then
    `dagster dev` serving its DAGSTER_HOME; yields the UI's base URL."""
    from kpi_pipeline.cli.main import main

    folder = tmp_path_factory.mktemp("ui")
    mp = pytest.MonkeyPatch()
    live_environment(mp, sandbox, folder)
    path = subset_config(
        folder,
        sandbox,
        ["stripe", "mailchimp"],
        dt.date(2026, 11, 1),
        extra="targets:\n  revenue: {month: 100000000}\n",
    )
    assert (
        main(["sync", "--config", str(path), "--as-of", AS_OF.isoformat(), "--start", "2026-11-01"])
        == 0
    )
    home = Path(os.environ["DAGSTER_HOME"])
    port = free_port()
    log = folder / "dagster-dev.log"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(home / "workspace.yaml"),
        ],
        cwd=folder,
        env=dict(os.environ),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            "answer from dagster dev", lambda: answers(f"{base}/server_info"), server, log, BOUND
        )
        yield base
    finally:
        os.killpg(
            server.pid, signal.SIGTERM
        )  # dagster dev stops its webserver, daemon and code server
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        mp.undo()


@pytest.fixture(scope="module")
def browser(ui):
    with chromium() as browser:
        dismiss_the_first_visit_popup(browser, ui)
        yield browser


def dismiss_the_first_visit_popup(browser, ui: str) -> None:
    """The community popup shows on the instance's first visit, then never again: skipped here,
    before any test, so every test sees the UI as an operator does after it, in any order."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=ui)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto("/locations")
        page.get_by_role("button", name="Skip").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
    finally:
        context.close()


@pytest.fixture
def page(browser, ui, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=ui)
    page = context.new_page()
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith((ui, "blob:", "data:")) else None,
    )
    page.set_default_timeout(WAIT_MS)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / f"ui-{request.node.name.removeprefix('test_')[:60]}.png"),
        full_page=True,
    )
    context.close()
    assert not elsewhere, f"the UI reached out of the machine: {elsewhere[:5]}"


def test_the_location_is_named_after_the_business_and_the_popup_stays_dismissed(page: Page):
    page.goto("/locations")
    expect(page.get_by_role("link", name="studio_lumen").first).to_be_visible()
    expect(page.get_by_text("Loaded").first).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(
        0
    )  # skipped once (the browser fixture), never again


def test_the_asset_groups_show_in_the_lineage(page: Page):
    page.goto("/asset-groups")
    for group in ("stripe", "mailchimp", "staging", "kpis", "snapshots", "reports"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    page.goto("/locations/studio_lumen/asset-groups/staging")
    expect(page.get_by_text("2 / 2 Passed").first).to_be_visible()  # keys_and_values and row_count
    # the graph draws only the nodes in its viewport, which another test's visit may have moved:
    # the group's list names every asset
    page.get_by_role("tab", name="List").click()
    expect(page.get_by_text("stg_stripe__charges").first).to_be_visible()


def test_the_nightly_schedule_shows_with_its_time_and_timezone(page: Page):
    page.goto("/automation")
    expect(page.get_by_text("nightly_sync", exact=True).first).to_be_visible()
    expect(page.get_by_text("refresh_after_failed_sync", exact=True).first).to_be_visible()
    page.goto("/locations/studio_lumen/schedules/nightly_sync")
    expect(page.get_by_text("(0 3 * * *)").first).to_be_visible()
    expect(page.get_by_text("Europe/Brussels").first).to_be_visible()
    expect(page.get_by_text("nightly", exact=True).first).to_be_visible()


def test_a_models_checks_show_with_what_each_condition_found(page: Page):
    page.goto("/assets/staging/stg_stripe__charges?view=checks")
    expect(page.get_by_text("row_count", exact=True).first).to_be_visible()
    expect(page.get_by_text("This is a blocking asset check.")).to_be_visible()
    expect(
        page.get_by_text("one row per business_id, charge_id", exact=False).first
    ).to_be_visible()
    expect(page.get_by_text("unique_key: duplicates").first).to_be_visible()
    expect(page.get_by_text("Passed").first).to_be_visible()


def test_the_snapshots_metadata_shows_the_scorecard_with_status(page: Page):
    page.goto("/assets/snapshots/kpi_snapshots")
    expect(page.get_by_text("1 off track", exact=False).first).to_be_visible()  # the status summary
    expect(
        page.get_by_text("dagster/row_count").or_(page.get_by_text("Row count")).first
    ).to_be_visible()
    expect(page.get_by_text("Freshness policy").first).to_be_visible()
    page.get_by_text("[Show Markdown]").first.click()
    scorecard = page.get_by_role("dialog")
    expect(scorecard.get_by_text("Month November 2026", exact=False).first).to_be_visible()
    revenue = (
        scorecard.get_by_role("row").filter(has_text="Revenue").first
    )  # the month's table comes first
    expect(revenue).to_contain_text("€100,000,000.00")
    expect(revenue).to_contain_text("off track")
    expect(scorecard.get_by_role("columnheader", name="Status").first).to_be_visible()


def test_the_kpi_sync_run_shows_launched_by_kpi_sync(page: Page):
    page.goto("/runs")
    expect(page.get_by_text("kpi/started_by: kpi sync").first).to_be_visible()
    expect(
        page.get_by_text("kpi sync", exact=True).first
    ).to_be_visible()  # the "Launched by" column
    expect(page.get_by_text("Manually launched")).to_have_count(0)


def test_each_kpis_verdict_is_a_check_of_the_snapshots_with_its_figures(page: Page):
    page.goto("/assets/snapshots/kpi_snapshots?view=checks")
    for check in ("kpi_revenue", "kpi_orders", "kpi_email_open_rate", "sources_fresh"):
        expect(page.get_by_text(check, exact=True).first).to_be_visible()
    page.get_by_text("kpi_revenue", exact=True).first.click()
    # the unreachable target: off track this month, a warning with the period and the figures
    expect(page.get_by_text("month 2026-11 (current period): off track").first).to_be_visible()
    expect(page.get_by_text("100000000", exact=False).first).to_be_visible()
