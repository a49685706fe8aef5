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
from kpi_pipeline.schedules import nightly_job, nightly_schedule


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job and schedule of one kpi.yaml."""
    assets = [*raw_assets(settings), *model_assets(raw_tables(settings)), *kpi_assets(settings),
              *report_assets(settings)]
    job = nightly_job()
    return dg.Definitions(
        assets=assets,
        asset_checks=build_checks(settings),
        jobs=[job],
        schedules=[nightly_schedule(settings, job)],
        resources={"warehouse": WarehouseResource(path=str(settings.warehouse_path),
                                                  business_id=settings.business_id)},
    )
