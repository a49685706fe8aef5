"""A portfolio's nights, really run: each business's schedule tick (evaluated in its own timezone)
goes through the run queue of dagster-daemon on the portfolio's workspace (a code location per
business) as a run of its own location; then the portfolio location's sensor rebuilds the copy.

The ticks are submitted with `dagster job launch` rather than waited for: a daemon that loads three
locations on a busy machine may start after a schedule's minute, and nothing here races a clock.
Its bounds are generous and only catch a hang.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from connectors.sandbox import CREDENTIALS, Sandbox
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.defs import build_definitions
from kpi_pipeline.orchestration.run import ensure_portfolio_instance
from tests.processes import launch_scheduled_night, start_daemon, wait_until

BOUND = 600.0  # seconds: a hang, not a slow machine
ZONES = {"east": "Pacific/Auckland", "west": "America/Los_Angeles"}


def test_each_business_runs_in_its_own_night_as_its_own_run(tmp_path, monkeypatch):
    # one instant; each business's schedule says what its night's run is
    # (its own timezone's yesterday)
    fire = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    as_of = {
        slug: fire.astimezone(ZoneInfo(zone)).date() - dt.timedelta(days=1)
        for slug, zone in ZONES.items()
    }
    with Sandbox(max(as_of.values())) as sandbox:
        for slug, zone in ZONES.items():
            folder = tmp_path / "businesses" / slug
            folder.mkdir(parents=True)
            (folder / "kpi.yaml").write_text(
                f"business: {slug.title()} Studio\ntimezone: "
                f"{zone}\nhistory_start: {as_of[slug] - dt.timedelta(days=20)}\n"
                f'schedule: {{nightly_at: "{fire.astimezone(ZoneInfo(zone)):%H:%M}"}}\n'
                'sources:\n  stripe: {api_key: "${STRIPE_API_KEY}", '
                f'base_url: "{sandbox.urls["stripe"]}"}}\n'
            )
            (folder / ".env").write_text(f"STRIPE_API_KEY={CREDENTIALS['stripe']['api_key']}\n")
        for name in (
            "KPI_TODAY",
            "KPI_AS_OF",
            "KPI_WAREHOUSE",
            "KPI_CONFIG",
            "STRIPE_API_KEY",
            "KPI_PORTFOLIO",
        ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
        home = ensure_portfolio_instance(tmp_path)
        log = tmp_path / "daemon.log"
        daemon = start_daemon(home / "workspace.yaml", tmp_path, log)
        try:
            # the schedule's tick, submitted to the run queue as the scheduler does:
            # no race with a clock
            for slug in ZONES:
                launch_scheduled_night(
                    build_definitions(load_config(tmp_path / "businesses" / slug / "kpi.yaml")),
                    fire,
                    home / "workspace.yaml",
                    slug,
                    tmp_path,
                    BOUND,
                )
            with dg.DagsterInstance.get() as instance:

                def finished(job: str) -> list[dg.DagsterRun]:
                    return [
                        r for r in instance.get_runs(dg.RunsFilter(job_name=job)) if r.is_finished
                    ]

                nights = wait_until(
                    "both nightly runs",
                    lambda: (lambda r: r if len(r) == 2 else None)(finished("nightly")),
                    daemon,
                    log,
                    BOUND,
                )
                wait_until(
                    "the portfolio copy of both",
                    lambda: copied(tmp_path) == {"east", "west"},
                    daemon,
                    log,
                    BOUND,
                )
                by_location = {run.remote_job_origin.location_name: run for run in nights}
                assert set(by_location) == {"east", "west"}
                for slug, run in by_location.items():
                    assert run.status == dg.DagsterRunStatus.SUCCESS, (
                        slug,
                        log.read_text()[-3000:],
                    )
                    assert (
                        run.tags["kpi/as_of"] == as_of[slug].isoformat()
                    )  # its own timezone's yesterday
                    keys = {
                        r.asset_key
                        for r in instance.get_records_for_run(
                            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
                        ).records
                    }
                    assert keys and all(k.path[0] == slug for k in keys), (slug, keys)
                refreshed = wait_until(
                    "the portfolio run", lambda: finished("portfolio_refresh"), daemon, log, BOUND
                )
                assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in refreshed)
        finally:
            daemon.terminate()
            daemon.wait(60)


def copied(root: Path) -> set[str]:
    """The businesses in the portfolio copy (none until the portfolio location's sensor made it)."""
    path = root / "data" / "portfolio_analytics.duckdb"
    if not path.exists():
        return set()
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            r[0]
            for r in con.execute(
                "select distinct business_id from snapshots.kpi_snapshots"
            ).fetchall()
        }
