"""When a nightly sync fails, refresh the scorecard anyway, so stale KPIs show no_data."""

from __future__ import annotations

import dagster as dg

from kpi_pipeline.runtime import AS_OF_TAG
from kpi_pipeline.schedules import NIGHTLY_JOB


def refresh_after_failure(nightly: dg.UnresolvedAssetJobDefinition,
                          refresh: dg.UnresolvedAssetJobDefinition) -> dg.RunFailureSensorDefinition:
    @dg.run_failure_sensor(name="refresh_after_failed_sync", monitored_jobs=[nightly], request_job=refresh,
                           default_status=dg.DefaultSensorStatus.RUNNING)
    def refresh_after_failed_sync(context: dg.RunFailureSensorContext) -> dg.RunRequest | None:
        run = context.dagster_run
        if run.job_name != NIGHTLY_JOB:
            return None
        tags = {AS_OF_TAG: run.tags[AS_OF_TAG]} if AS_OF_TAG in run.tags else {}
        return dg.RunRequest(run_key=f"refresh-after-{run.run_id}", tags={**tags, "kpi/refresh_after": run.run_id})

    return refresh_after_failed_sync
