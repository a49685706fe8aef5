"""The nightly path, really run: the schedule's tick goes through the run queue of dagster-daemon on
a temporary DAGSTER_HOME and the duckdb pool, a source fails, the refresh sensor rebuilds the
scorecard from what did load, and the alerts reach a local webhook.

The tick is submitted with `dagster job launch` rather than waited for (as in
test_portfolio_nightly.py): a daemon that starts late on a busy machine would miss a schedule's
minute, and nothing here races a clock. Its bounds are generous and only catch a hang.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from connectors.sandbox import Sandbox
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration import dagster_private
from kpi_pipeline.orchestration.defs import build_definitions
from kpi_pipeline.orchestration.run import ensure_instance
from tests.conftest import live_environment, subset_config
from tests.processes import launch_scheduled_night, start_daemon, wait_until
from tests.webhook import Receiver

BOUND = 600.0  # seconds: a hang, not a slow machine


def test_the_schedule_fires_a_source_fails_the_refresh_runs_and_the_owner_is_told(
    tmp_path, monkeypatch
):
    tz = ZoneInfo("Europe/Brussels")
    # a minute already gone when the daemon starts: its scheduler never fires it too;
    # the test submits it
    fire = dt.datetime.now(tz).replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    as_of = fire.date() - dt.timedelta(days=1)
    # the schedule runs for the real yesterday: a world whose history reaches it
    with Sandbox(as_of) as sandbox, Receiver() as hook:
        live_environment(monkeypatch, sandbox, tmp_path)
        monkeypatch.setenv("KPI_TODAY", fire.date().isoformat())
        monkeypatch.setenv("KPI_ALERT_WEBHOOK", hook.url)
        history_start = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(
            day=1
        )  # the month before as-of's
        path = subset_config(
            tmp_path,
            sandbox,
            ["stripe", "mailchimp"],
            history_start,
            extra=f'schedule: {{nightly_at: "{fire:%H:%M}"}}\n'
            # out of reach: some week is off track, or one just closed missed
            "targets:\n  revenue: {week: 100000000, month: 100000000}\n"
            'alerts: {webhook_url: "${KPI_ALERT_WEBHOOK}"}\n',
        )
        settings = load_config(path)
        home = ensure_instance(settings)  # dagster.yaml (pool limit 1) and the workspace
        sandbox.mailchimp.server.inject(r".*", status=401, times=100_000)  # the key was revoked
        log = tmp_path / "daemon.log"
        daemon = start_daemon(home / "workspace.yaml", tmp_path, log)
        try:
            with dg.DagsterInstance.get() as instance:
                # a failure sensor sees only the runs that fail after its first tick
                wait_until(
                    "the failure sensors' first ticks",
                    lambda: failure_sensors_started(instance),
                    daemon,
                    log,
                    BOUND,
                )
            # the schedule's tick, submitted to the run queue as the scheduler does:
            # no race with a clock
            launch_scheduled_night(
                build_definitions(settings),
                fire,
                home / "workspace.yaml",
                settings.business_id,
                tmp_path,
                BOUND,
            )
            with dg.DagsterInstance.get() as instance:

                def runs(job):
                    return instance.get_runs(dg.RunsFilter(job_name=job))

                nightly = wait_until(
                    "failed nightly run",
                    lambda: [r for r in runs("nightly") if r.status == dg.DagsterRunStatus.FAILURE],
                    daemon,
                    log,
                    BOUND,
                )[0]
                refresh = wait_until(
                    "finished refresh run",
                    lambda: [r for r in runs("refresh") if r.is_finished],
                    daemon,
                    log,
                    BOUND,
                )[0]
                messages = wait_until(
                    "two alerts",
                    lambda: len(hook.messages) >= 2 and hook.texts(),
                    daemon,
                    log,
                    BOUND,
                )

                # the schedule's tick: yesterday's partition, through the run queue
                assert nightly.tags["kpi/tick"] == fire.isoformat()
                assert nightly.tags["dagster/partition"] == as_of.isoformat()
                assert (
                    nightly.tags["kpi/as_of"] == as_of.isoformat()
                    and nightly.tags["kpi/window"] == "lookback"
                )
                assert instance.all_logs(nightly.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)
                # the instance the daemon runs on has the duckdb pool, one slot. That the pool holds
                # a second run back is proved where it can fail: test_recovery.py::
                # test_a_sync_waiting_for_the_pool_names_the_holder_and_gives_up (here the
                # in-process executor runs steps one after another whatever the pool does)
                assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1
                # the source failed, the others loaded; the sensor refreshed from what did load
                failed = {
                    e.step_key
                    for e in instance.all_logs(
                        nightly.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
                    )
                }
                assert failed and all(k.startswith("raw__mailchimp__") for k in failed)
                assert refresh.status == dg.DagsterRunStatus.SUCCESS
                assert refresh.tags["kpi/refresh_after"] == nightly.run_id
        finally:
            daemon.terminate()
            daemon.wait(60)
    failure = next(t for t in messages if "run failed" in t)
    assert failure.startswith(f"Studio Lumen: the nightly run failed (as of {as_of})")
    assert (
        "*mailchimp*:" in failure
        and "check sources.mailchimp.api_key" in failure
        and "*stripe*" not in failure
    )
    turn = next(t for t in messages if "turned" in t)
    assert "*Revenue* (" in turn and ("off track: actual €" in turn or "missed: actual €" in turn)
    con = duckdb.connect(str(tmp_path / "data" / "analytics.duckdb"), read_only=True)
    statuses = dict(
        con.execute(
            "select kpi_id, status from snapshots.kpi_snapshots where grain = 'month' "
            "and period_start = ?",
            [as_of.replace(day=1)],
        ).fetchall()
    )
    con.close()
    assert statuses["newsletter_subscribers"] == "no_data" and statuses["revenue"] != "no_data"
    assert hook.url not in log.read_text()


def failure_sensors_started(instance) -> bool:
    """Both run-failure sensors have set their cursor (their first tick):
    a run failing now is theirs."""
    started = {name for name, cursor in dagster_private.sensor_cursors(instance).items() if cursor}
    return {"refresh_after_failed_sync", "alert_on_failed_run"} <= started
