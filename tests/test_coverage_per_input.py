"""Coverage is per input (README.md#what-the-numbers-mean): a KPI is blanked only by the streams
it reads, a back-dated run scores what it could fetch, the CSV covers each custom KPI through its
last date entered, and a period that starts before what can be had is partial, not "no data".

The platforms' clock here is the sandbox's (7 December 2026), not the run's as-of, as it is
against the real platforms. Truth comes from the sandbox world's events (tests/truth.py).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from connectors.sandbox import Sandbox
from kpi_pipeline.cli.main import main
from tests.conftest import AS_OF, live_environment, subset_config
from tests.truth import truth

PLATFORM_TODAY = dt.date(2026, 12, 7)


@pytest.fixture(scope="module")
def later_sandbox():
    """The platforms as they stand on 7 December 2026: their world runs through 6 December."""
    with Sandbox(PLATFORM_TODAY - dt.timedelta(days=1)) as sb:
        yield sb


def _snapshots(config, kpis: tuple[str, ...]) -> dict[tuple[str, str, str], dict]:
    path = config.parent / "data" / "warehouse.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select kpi_id, grain, period, actual, status, status_reason, projected, is_final "
            f"from snapshots.kpi_snapshots where kpi_id in ({', '.join('?' for _ in kpis)})",
            list(kpis),
        ).fetchall()
    return {
        (r[0], r[1], r[2]): dict(
            zip(("actual", "status", "reason", "projected", "is_final"), r[3:], strict=True)
        )
        for r in rows
    }


def test_a_back_dated_mailchimp_sync_scores_every_kpi_its_streams_covered(
    tmp_path, monkeypatch, later_sandbox
):
    live_environment(monkeypatch, later_sandbox, tmp_path)
    monkeypatch.setenv(
        "KPI_TODAY", PLATFORM_TODAY.isoformat()
    )  # the run is back-dated, the platform is not
    config = subset_config(tmp_path, later_sandbox, ["mailchimp"], dt.date(2026, 9, 1))
    assert (
        main(
            [
                "sync",
                "--config",
                str(config),
                "--start",
                "2026-09-01",
                "--end",
                "2026-11-26",
                "--as-of",
                "2026-11-26",
            ]
        )
        == 0
    )
    kpis = (
        "email_open_rate",
        "email_click_rate",
        "newsletter_new_subscribers",
        "newsletter_unsubscribes",
        "newsletter_net_growth",
        "newsletter_churn_rate",
        "newsletter_cold_subscriber_share",
    )
    snaps = _snapshots(config, kpis)
    world = later_sandbox.world
    october = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    for kpi in kpis[:6]:
        row = snaps[(kpi, "month", "2026-10")]
        assert row["status"] != "no_data", (kpi, row)
        assert row["actual"] == pytest.approx(truth(world, kpi, *october), rel=1e-6), kpi
        # the open month is scored up to the back-dated as-of too
        assert snaps[(kpi, "month", "2026-11")]["status"] != "no_data", kpi
    assert snaps[("newsletter_new_subscribers", "month", "2026-11")]["actual"] == truth(
        world, "newsletter_new_subscribers", dt.date(2026, 11, 1), dt.date(2026, 11, 26)
    )
    # membership is only reported as of now: the cold share has no value, and says exactly why
    cold = snaps[("newsletter_cold_subscriber_share", "month", "2026-11")]
    assert cold["status"] == "no_data"
    assert cold["reason"].startswith("mailchimp/members is only reported as of today"), cold[
        "reason"
    ]


def test_a_failing_invitees_stream_does_not_blank_intro_calls(tmp_path, monkeypatch, sandbox):
    live_environment(monkeypatch, sandbox, tmp_path)
    config = subset_config(tmp_path, sandbox, ["calendly", "stripe"], dt.date(2026, 10, 1))
    sandbox.calendly.server.inject(r"/scheduled_events/[^/]+/invitees", status=400, times=100000)
    assert (
        main(["sync", "--config", str(config), "--history", "--as-of", str(AS_OF)]) == 1
    )  # the invitees stream failed
    snaps = _snapshots(config, ("intro_calls", "call_conversion_rate"))
    world = sandbox.world
    october = snaps[("intro_calls", "month", "2026-10")]
    assert october["status"] != "no_data", october
    assert october["actual"] == truth(
        world, "intro_calls", dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    )
    # the conversion cohort does read the invitees: it says which stream failed
    cohort = snaps[("call_conversion_rate", "month", "2026-10")]
    assert cohort["status"] == "no_data" and cohort["reason"].startswith(
        "calendly/invitees never loaded"
    ), cohort


def test_the_csv_covers_each_custom_kpi_through_its_last_date_entered(
    tmp_path, monkeypatch, sandbox
):
    """Owners type their numbers in weekly, a few days late: weeks not typed in yet are no zeros."""
    live_environment(monkeypatch, sandbox, tmp_path)
    csv = tmp_path / "manual.csv"
    lines = ["date,kpi_id,value"]
    day = dt.date(2026, 10, 4)  # weekly totals on Sundays, typed in through 1 November only
    while day <= dt.date(2026, 11, 1):
        lines.append(f"{day},treatments_performed,70")
        day += dt.timedelta(days=7)
    lines.append("2026-11-08,support_tickets_solved,12")
    csv.write_text("\n".join(lines) + "\n")
    config = subset_config(tmp_path, sandbox, ["manual"], dt.date(2026, 10, 1))
    text = config.read_text().replace(str(_manual_csv()), str(csv))
    config.write_text(text + "targets:\n  treatments_performed: {month: 300, quarter: 900}\n")
    assert main(["sync", "--config", str(config), "--as-of", str(AS_OF)]) == 0
    snaps = _snapshots(config, ("treatments_performed", "support_tickets_solved"))
    november = snaps[("treatments_performed", "month", "2026-11")]
    # 1 November is in: November is paced through that one day,
    # not read as 70 of a 300 target "missed"
    assert november["actual"] == 70 and november["status"] != "no_data", november
    assert november["reason"].startswith("through 2026-11-01, the last date entered"), november
    assert november["projected"] == pytest.approx(70 * 30 / 1)
    # a week after the last date entered is not a zero: it is not entered yet
    week = snaps[("treatments_performed", "week", "2026-W46")]
    assert week["status"] == "no_data" and week["actual"] is None, week
    assert "the CSV has treatments_performed through 2026-11-01" in week["reason"]
    # October is complete: achieved or missed on its own numbers (4 Sundays x 70)
    assert snaps[("treatments_performed", "month", "2026-10")]["actual"] == 280
    # freshness says how far the CSV goes (the earliest of its KPIs' last dates), not the sync's day
    from kpi_pipeline.config.settings import load_config
    from kpi_pipeline.kpi.coverage import loaded_through
    from kpi_pipeline.warehouse.database import Warehouse

    settings = load_config(config)
    assert loaded_through(Warehouse(settings.warehouse_path, settings.business_id), settings)[
        "manual"
    ] == dt.date(2026, 11, 1)


def _manual_csv():
    from tests.conftest import MANUAL_CSV

    return MANUAL_CSV


def test_a_business_that_starts_mid_year_shows_its_year_as_partial(tmp_path, monkeypatch, sandbox):
    live_environment(monkeypatch, sandbox, tmp_path)
    config = subset_config(tmp_path, sandbox, ["calendly", "stripe"], dt.date(2026, 6, 1))
    config.write_text(
        config.read_text() + "targets:\n  intro_calls: {year: 400, month: 30}\n"
        "  revenue: {year: 100000}\n"
    )
    assert main(["sync", "--config", str(config), "--history", "--as-of", str(AS_OF)]) == 0
    snaps = _snapshots(config, ("intro_calls", "revenue"))
    world = sandbox.world
    year = snaps[("intro_calls", "year", "2026")]
    assert year["status"] == "partial", year
    assert year["actual"] == truth(world, "intro_calls", dt.date(2026, 6, 1), dt.date(2026, 11, 15))
    assert year["reason"].startswith("partial: since 2026-06-01: history_start is 2026-06-01"), year
    assert year["projected"] is None  # never scored against the whole year's target
    assert snaps[("revenue", "year", "2026")]["status"] == "partial"
    # the quarter that starts before history_start too; the ones after it are scored
    assert snaps[("intro_calls", "quarter", "2026-Q2")]["status"] == "partial"
    assert snaps[("intro_calls", "month", "2026-07")]["status"] in ("achieved", "missed")
