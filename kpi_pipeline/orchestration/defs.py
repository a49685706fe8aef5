"""Build the Dagster definitions from validated settings."""

from __future__ import annotations

import dagster as dg

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.orchestration.assets.models import model_assets
from kpi_pipeline.orchestration.assets.raw import raw_assets, raw_tables
from kpi_pipeline.orchestration.assets.report import report_assets
from kpi_pipeline.orchestration.assets.snapshots import kpi_assets
from kpi_pipeline.orchestration.checks import build_checks
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.orchestration.schedules import nightly_job, nightly_schedule, refresh_job
from kpi_pipeline.orchestration.sensors import alert_on_failure, refresh_after_failure
from kpi_pipeline.sql.models import business_models


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job and schedule of one kpi.yaml."""
    # Python assets link their function's source in the UI; SQL models and streams link their own
    # file only the models a configured source feeds
    # (docs/ARCHITECTURE.md#a-business-runs-only-its-own-models)
    models = business_models(raw_tables(settings), settings.kpis())
    python = dg.with_source_code_references(
        [*kpi_assets(settings, {m.table for m in models}), *report_assets(settings)]
    )
    assets = [
        *raw_assets(settings),
        *model_assets(models, raw_tables(settings), settings.writer_pool),
        *python,
    ]
    checks = build_checks(settings)
    if settings.key_prefix:  # a portfolio's business: its own keys in the instance's one namespace
        assets, checks = (
            _prefixed(assets, settings.key_prefix),
            _prefixed(checks, settings.key_prefix),
        )
    nightly, refresh = nightly_job(), refresh_job(settings)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[nightly, refresh],
        schedules=[nightly_schedule(settings, nightly)],
        sensors=[
            refresh_after_failure(nightly, refresh),
            alert_on_failure(settings, [nightly, refresh]),
        ],
        # every step that writes DuckDB waits for the one-slot pool, so a process per step (the
        # multiprocess executor) buys no parallelism, only a start-up per step: runs the daemon or
        # the UI launch execute their steps in the run's process, as `kpi sync` does
        executor=dg.in_process_executor,
        resources={
            "warehouse": WarehouseResource(
                path=str(settings.warehouse_path), business_id=settings.business_id
            )
        },
    )


def _prefixed(defs: list, prefix: list[str]) -> list:
    """``defs`` with every asset key (their own, their deps', their checks' targets) under
    ``prefix``: Dagster's ``key_prefix`` of ``load_assets_from_modules``,
    for definitions built in code."""
    keys = {
        key
        for d in defs
        for key in (*d.keys, *d.dependency_keys, *(c.asset_key for c in d.check_keys))
    }
    replacements = {key: key.with_prefix(prefix) for key in keys}
    renamed = [d.with_attributes(asset_key_replacements=replacements) for d in defs]
    return [
        new.coerce_to_checks_def() if isinstance(old, dg.AssetChecksDefinition) else new
        for old, new in zip(defs, renamed, strict=True)
    ]
