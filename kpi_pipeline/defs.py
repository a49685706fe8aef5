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
    assets = [*raw_assets(settings), *model_assets(raw_tables(settings)), *kpi_assets(settings),
              *report_assets(settings)]
    nightly, refresh = nightly_job(), refresh_job(settings)
    return dg.Definitions(
        assets=assets,
        asset_checks=build_checks(settings),
        jobs=[nightly, refresh],
        schedules=[nightly_schedule(settings, nightly)],
        sensors=[refresh_after_failure(nightly, refresh), alert_on_failure(settings, [nightly, refresh])],
        resources={"warehouse": WarehouseResource(path=str(settings.warehouse_path),
                                                  business_id=settings.business_id)},
    )
