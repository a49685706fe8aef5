"""The nightly schedule and the jobs it runs."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from kpi_pipeline.config import Settings
from kpi_pipeline.runtime import AS_OF_TAG, WINDOW_TAG, max_lookback

NIGHTLY_JOB = "nightly"
REFRESH_JOB = "refresh"


def run_tags(settings: Settings, as_of: dt.date, start: dt.date | None = None,
             end: dt.date | None = None, sources: list[str] | None = None) -> dict[str, str]:
    """Tags of a sync run: as-of and the partition range (each stream's lookback when no dates)."""
    lookback_mode = start is None and end is None
    end = end or as_of
    start = start or end - dt.timedelta(days=max_lookback(settings, sources) - 1)
    start = max(start, settings.history_start)
    tags = {AS_OF_TAG: as_of.isoformat(), ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: end.isoformat()}
    if lookback_mode:
        tags[WINDOW_TAG] = "lookback"
    return tags


def nightly_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(NIGHTLY_JOB, selection=dg.AssetSelection.all(),
                               description="Sync every source's lookback window, then models, snapshots, report, publish.")


def refresh_job(settings: Settings) -> dg.UnresolvedAssetJobDefinition:
    """Everything but the raw streams: models, snapshots, report, publish from what is loaded."""
    raw = dg.AssetSelection.groups(*settings.enabled_sources())
    return dg.define_asset_job(REFRESH_JOB, selection=dg.AssetSelection.all() - raw,
                               description="Rebuild models, snapshots, report and the analysts' copy "
                                           "from the data already loaded (stale sources show no_data).")


def nightly_schedule(settings: Settings, job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    hour, minute = settings.schedule.nightly_at.split(":")

    # every day at nightly_at, business-local time
    @dg.schedule(name="nightly_sync", cron_schedule=f"{int(minute)} {int(hour)} * * *", job=job,
                 execution_timezone=settings.timezone, default_status=dg.DefaultScheduleStatus.RUNNING)
    def nightly_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        local = context.scheduled_execution_time.astimezone(settings.tz).date()
        as_of = local - dt.timedelta(days=1)
        return dg.RunRequest(run_key=f"nightly-{as_of}", tags=run_tags(settings, as_of))

    return nightly_sync
