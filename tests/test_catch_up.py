"""A sync that did not run for weeks catches up: the next routine sync fetches the nights it missed.

A routine sync (the nightly run, `kpi sync` without dates) re-fetches each stream's lookback.
A server that was off for seven weeks, or a laptop run once a month, would leave the days
between the last load and that lookback unloaded: the months in between "no data" although
the platforms still serve them (Mailchimp's list activity for 180 days only, after which they
are gone). The routine sync after the gap must fetch from the day after each stream's last load,
and the months in between score as the world's own events count them.
"""

import datetime as dt

import duckdb
import pytest

from connectors.sandbox import Sandbox
from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import load_config
from tests.conftest import live_environment, subset_config
from tests.truth import truth

HISTORY_START = dt.date(2026, 7, 1)
FIRST_AS_OF = dt.date(2026, 8, 10)  # the first sync, then nothing for seven weeks
NEXT_AS_OF = dt.date(2026, 10, 4)
MONTH = (dt.date(2026, 9, 1), dt.date(2026, 9, 30))  # wholly inside the gap, past every lookback


@pytest.fixture(scope="module")
def caught_up(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("catch_up")
    with Sandbox(NEXT_AS_OF) as sandbox:
        live_environment(mp, sandbox, folder)
        path = subset_config(
            folder,
            sandbox,
            ["mailchimp", "stripe"],
            HISTORY_START,
            extra=(
                "targets:\n  revenue: {month: 12000}\n  newsletter_new_subscribers: {month: 115}\n"
            ),
        )
        codes = [
            main(
                [
                    "sync",
                    "--config",
                    str(path),
                    "--as-of",
                    str(FIRST_AS_OF),
                    "--start",
                    str(HISTORY_START),
                ]
            ),
            main(["sync", "--config", str(path), "--as-of", str(NEXT_AS_OF)]),
        ]
        yield sandbox, load_config(path), codes
    mp.undo()


def test_the_sync_after_a_gap_loads_every_day_since_the_last_load(caught_up):
    _, settings, codes = caught_up
    assert codes == [0, 0]
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    spans = con.execute(
        "select stream, window_start, window_end from raw._loads "
        "where source = 'mailchimp' and stream = 'list_activity' order by loaded_at"
    ).fetchall()
    con.close()
    days = {
        start + dt.timedelta(days=n)
        for _, start, end in spans
        for n in range((end - start).days + 1)
    }
    expected = {
        HISTORY_START + dt.timedelta(days=n) for n in range((NEXT_AS_OF - HISTORY_START).days + 1)
    }
    assert not expected - days, f"list activity never loaded for {sorted(expected - days)[:3]}..."
    assert spans[-1][1] == FIRST_AS_OF + dt.timedelta(
        days=1
    )  # from the day after the last load, not the lookback


@pytest.mark.parametrize(
    "kpi", ["newsletter_new_subscribers", "revenue", "new_customers", "orders"]
)
def test_the_month_inside_the_gap_scores_as_the_world_counts_it(caught_up, kpi):
    sandbox, settings, _ = caught_up
    con = duckdb.connect(str(settings.published_path), read_only=True)
    row = con.execute(
        "select actual, status from snapshots.kpi_snapshots where kpi_id = ? and grain = 'month' "
        "and period_start = ?",
        [kpi, MONTH[0]],
    ).fetchone()
    con.close()
    expected = truth(sandbox.world, kpi, *MONTH)
    assert row is not None and row[1] != "no_data", f"{kpi} for September: {row}"
    assert row[0] == pytest.approx(expected), (
        f"{kpi} for September: {row[0]}, the world has {expected}"
    )
