"""The nightly schedule and the jobs it runs."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.sources.windows import (
    AS_OF_TAG,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    WINDOW_TAG,
)

NIGHTLY_JOB = "nightly"
REFRESH_JOB = "refresh"


def run_tags(
    settings: Settings, as_of: dt.date, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, str]:
    """Tags of a sync run. Without dates: the as-of partition, each stream re-fetching its own
    lookback ending there (so a nightly run records one partition per daily stream, not the
    longest lookback's worth for every stream). With dates: exactly that range of partitions."""
    if start is None and end is None:
        return {
            AS_OF_TAG: as_of.isoformat(),
            PARTITION_TAG: as_of.isoformat(),
            WINDOW_TAG: "lookback",
        }
    end = end or as_of
    start = max(start or end, settings.history_start)
    return {
        AS_OF_TAG: as_of.isoformat(),
        RANGE_START_TAG: start.isoformat(),
        RANGE_END_TAG: end.isoformat(),
    }


def nightly_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.all(),
        description="Sync every source's lookback window, then models, snapshots, report, publish.",
    )


def refresh_job(settings: Settings) -> dg.UnresolvedAssetJobDefinition:
    """Everything but the raw streams: models, snapshots, report, publish from what is loaded."""
    raw = dg.AssetSelection.groups(*settings.enabled_sources())
    return dg.define_asset_job(
        REFRESH_JOB,
        selection=dg.AssetSelection.all() - raw,
        description="Rebuild models, snapshots, report and the analysts' copy "
        "from the data already loaded (stale sources show no_data).",
    )


def nightly_schedule(
    settings: Settings, job: dg.UnresolvedAssetJobDefinition
) -> dg.ScheduleDefinition:
    hour, minute = settings.schedule.nightly_at.split(":")

    # every day at nightly_at, business-local time
    @dg.schedule(
        name="nightly_sync",
        cron_schedule=f"{int(minute)} {int(hour)} * * *",
        job=job,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def nightly_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        local = context.scheduled_execution_time.astimezone(settings.tz).date()
        as_of = local - dt.timedelta(days=1)
        tags = run_tags(settings, as_of)
        return dg.RunRequest(
            run_key=f"nightly-{as_of}", partition_key=tags.pop(PARTITION_TAG), tags=tags
        )

    return nightly_sync


FRESH_WITHIN_HOURS = 3  # the nightly run has this long to finish before its assets count as stale


def nightly_freshness(settings: Settings) -> dg.FreshnessPolicy:
    """Fresh when materialized in the 24 hours before the nightly run's deadline (nightly_at plus
    three hours, business time): the UI shows a source or the scorecard stale
    after a missed night."""
    hour, minute = (int(x) for x in settings.schedule.nightly_at.split(":"))
    deadline = (hour + FRESH_WITHIN_HOURS) % 24
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{minute} {deadline} * * *",
        lower_bound_delta=dt.timedelta(hours=24),
        timezone=settings.timezone,
    )
