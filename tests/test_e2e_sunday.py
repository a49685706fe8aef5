"""End to end with Sunday weeks, over a year that spans both DST changes.

A shop on Sunday weeks (GA4, Meta Ads, Instagram, Stripe, Calendly, HubSpot and the CSV) synced
from Jan 1 through Dagster on the sandbox. Every KPI of every day, Sunday week, month, quarter and
the open year is compared with truth from the world's events, over periods enumerated by the
test's own calendar: the spring (Mar 29) and autumn (Oct 25) clock changes move UTC timestamps
across business-local day boundaries, and a wrong conversion shows as a wrong day.
"""

import datetime as dt
import io

import duckdb
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.run import run_pipeline
from tests import expected_kpis
from tests.conftest import AS_OF, live_environment, subset_config
from tests.truth import periods, truth

HISTORY_START = dt.date(2026, 1, 1)
SOURCES = ["ga4", "meta_ads", "instagram", "stripe", "calendly", "hubspot", "manual"]


@pytest.fixture(scope="module")
def values(sandbox, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("sunday")
    live_environment(mp, sandbox, folder)
    settings = load_config(
        subset_config(folder, sandbox, SOURCES, HISTORY_START, week_start="sunday")
    )
    out = io.StringIO()
    outcome = run_pipeline(settings, AS_OF, start=HISTORY_START, end=AS_OF, out=out)
    assert outcome.success, out.getvalue()
    con = duckdb.connect(str(settings.published_path), read_only=True)
    rows = con.execute(
        "select kpi_id, grain, period_start, period_end, value from kpis.kpi_values "
        "where dimension is null"
    ).fetchall()
    snaps = con.execute(
        "select kpi_id, grain, period, period_start from snapshots.kpi_snapshots"
    ).fetchall()
    con.close()
    yield settings, {(k, g, s): (e, v) for k, g, s, e, v in rows}, snaps
    mp.undo()


@pytest.mark.parametrize("grain", ["day", "week", "month", "quarter", "year"])
def test_every_kpi_of_every_period_matches_the_worlds_events(values, sandbox, grain):
    settings, got, _ = values
    kpis = sorted(expected_kpis.scored(SOURCES))  # docs/ARCHITECTURE.md, not settings.kpis()
    checked = 0
    for start, last in periods(grain, HISTORY_START, AS_OF, "sunday"):
        end = min(last, AS_OF)
        for kpi in kpis:
            expected = truth(sandbox.world, kpi, start, end, ad_network="meta")
            period_end, actual = got.get((kpi, grain, start), (last, None))
            assert period_end == last, (kpi, grain, start)
            if expected is None:
                assert actual is None, (kpi, grain, start)
            else:
                assert actual == pytest.approx(expected, rel=1e-9), (
                    kpi,
                    grain,
                    start,
                    actual,
                    expected,
                )
            checked += 1
    days = (AS_OF - HISTORY_START).days + 1
    assert (
        checked
        == len(kpis) * {"day": days, "week": 46, "month": 11, "quarter": 4, "year": 1}[grain]
    )


def test_the_clock_changes_fall_inside_the_checked_days(sandbox):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Brussels")
    offsets = {
        dt.datetime(2026, m, d, 12, tzinfo=tz).utcoffset()
        for m, d in ((3, 28), (3, 30), (10, 24), (10, 26))
    }
    assert (
        len(offsets) == 2 and HISTORY_START < dt.date(2026, 3, 29) < dt.date(2026, 10, 25) <= AS_OF
    )
    # the world has payments on both change days
    late = [
        p
        for p in sandbox.world.sales.payments
        if p.created_at.astimezone(tz).date() in (dt.date(2026, 3, 29), dt.date(2026, 10, 25))
    ]
    assert late


def test_sunday_weeks_are_labelled_by_the_iso_week_of_their_wednesday(values):
    _, _, snaps = values
    weeks = {start: period for kpi, grain, period, start in snaps if grain == "week"}
    assert weeks[dt.date(2025, 12, 28)] == "2026-W01" and weeks[dt.date(2026, 1, 4)] == "2026-W02"
    assert weeks[dt.date(2026, 11, 15)] == "2026-W47" and all(d.weekday() == 6 for d in weeks)
