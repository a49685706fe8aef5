"""Sensors: after a failed nightly run, refresh the scorecard anyway and tell the owner.

Runs started by ``kpi sync`` (tagged ``kpi/started_by``) refresh and alert in the command
itself, so these sensors leave them alone and nothing is done twice.
"""

from __future__ import annotations

import dagster as dg

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.orchestration.instance_state import STARTED_BY_TAG
from kpi_pipeline.orchestration.schedules import NIGHTLY_JOB
from kpi_pipeline.sources.windows import AS_OF_TAG


def refresh_after_failure(
    nightly: dg.UnresolvedAssetJobDefinition, refresh: dg.UnresolvedAssetJobDefinition
) -> dg.RunFailureSensorDefinition:
    """When a nightly sync fails, refresh the scorecard anyway, so stale KPIs show no_data."""

    @dg.run_failure_sensor(
        name="refresh_after_failed_sync",
        monitored_jobs=[nightly],
        request_job=refresh,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def refresh_after_failed_sync(
        context: dg.RunFailureSensorContext,
    ) -> dg.RunRequest | dg.SkipReason:
        run = context.dagster_run
        if run.job_name != NIGHTLY_JOB or STARTED_BY_TAG in run.tags:
            return dg.SkipReason(
                f"run {run.run_id[:8]} refreshes itself (started by {run.tags.get(STARTED_BY_TAG)})"
            )
        tags = {AS_OF_TAG: run.tags[AS_OF_TAG]} if AS_OF_TAG in run.tags else {}
        return dg.RunRequest(
            run_key=f"refresh-after-{run.run_id}", tags={**tags, "kpi/refresh_after": run.run_id}
        )

    return refresh_after_failed_sync


def alert_on_failure(
    settings: Settings, jobs: list[dg.UnresolvedAssetJobDefinition]
) -> dg.RunFailureSensorDefinition:
    """Post the run-failure message (source, step, cause and fix) to alerts.webhook_url."""

    @dg.run_failure_sensor(
        name="alert_on_failed_run",
        monitored_jobs=jobs,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def alert_on_failed_run(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
        # late: pandas, ~0.6 s of every load of the definitions (UI, daemon, run)
        from kpi_pipeline.reporting.alerts import announce_failure, root_message

        run = context.dagster_run
        if STARTED_BY_TAG in run.tags:
            return dg.SkipReason(
                f"run {run.run_id[:8]} alerts itself (started by {run.tags[STARTED_BY_TAG]})"
            )
        failures = [
            (e.step_key or "?", root_message(e.step_failure_data.error))
            for e in context.get_step_failure_events()
        ]
        if not failures and context.failure_event.message:
            failures = [("run", context.failure_event.message)]
        what = announce_failure(
            settings, run.job_name, run.run_id, failures, run.tags.get(AS_OF_TAG)
        )
        context.log.info(f"run-failure alert for {run.run_id[:8]}: {what}")
        return None

    return alert_on_failed_run
