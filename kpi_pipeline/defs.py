"""Build the Dagster definitions from validated settings."""

from __future__ import annotations

import dagster as dg

from kpi_pipeline.assets.models import model_assets
from kpi_pipeline.assets.raw import raw_assets, raw_tables
from kpi_pipeline.assets.report import report_assets
from kpi_pipeline.assets.snapshots import kpi_assets
from kpi_pipeline.checks import build_checks
from kpi_pipeline.config import Settings
from kpi_pipeline.resources import WarehouseResource
from kpi_pipeline.schedules import nightly_job, nightly_schedule, refresh_job
from kpi_pipeline.sensors import alert_on_failure, refresh_after_failure


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job and schedule of one kpi.yaml."""
    # Python assets link their function's source in the UI; SQL models and streams link their own file
    python = dg.with_source_code_references([*kpi_assets(settings), *report_assets(settings)])
    assets = [*raw_assets(settings), *model_assets(raw_tables(settings)), *python]
    nightly, refresh = nightly_job(), refresh_job(settings)
    return dg.Definitions(
        assets=assets,
        asset_checks=build_checks(settings),
        jobs=[nightly, refresh],
        schedules=[nightly_schedule(settings, nightly)],
        sensors=[refresh_after_failure(nightly, refresh), alert_on_failure(settings, [nightly, refresh])],
        # every step that writes DuckDB waits for the one-slot pool, so a process per step (the
        # multiprocess executor) buys no parallelism, only a start-up per step: runs the daemon or
        # the UI launch execute their steps in the run's process, as `kpi sync` does
        executor=dg.in_process_executor,
        resources={"warehouse": WarehouseResource(path=str(settings.warehouse_path),
                                                  business_id=settings.business_id)},
    )
