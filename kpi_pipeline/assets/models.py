"""Model assets: one per SQL file in dbt_like_sql/, dependencies parsed from the SQL."""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import hashlib

import dagster as dg

from connectors.registry import SOURCES
from kpi_pipeline.assets.keys import group_for, table_key
from kpi_pipeline.assets.raw import all_raw_tables
from kpi_pipeline.loading import ensure_tables
from kpi_pipeline.models import Model, load_models
from kpi_pipeline.resources import WarehouseResource

PYTHON_TABLES = ("kpis.catalog", "kpis.calendar_windows", "kpis.parameters", "kpis.coverage")


def build_model_asset(model: Model, defined: set[str]) -> dg.AssetsDefinition:
    # a raw table not loaded yet (a source kpi.yaml does not enable, or one this run did not
    # select on a new warehouse) is read empty
    raw_deps = [f.removeprefix("raw.") for f in sorted(model.deps) if f.startswith("raw.")]

    @dg.asset(
        key=table_key(model.table),
        deps=[table_key(dep) for dep in sorted(model.deps) if dep in defined],
        group_name=group_for(model.table),
        kinds={"sql", "duckdb"},
        pool="duckdb",
        description=model.description or None,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata={"file": str(model.path.relative_to(model.path.parents[1]))},
    )
    def sql_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        wh = warehouse.get()
        if raw_deps:
            ensure_tables(wh, [spec for _, specs in SOURCES.values() for spec in specs.values()
                               if spec.table in raw_deps])
        rows = wh.rebuild(model.table, model.sql)
        context.log.info(f"{model.table}: {rows} rows")
        return dg.MaterializeResult(metadata={"rows": rows})

    return sql_model


def model_assets(raw_tables: list[str]) -> list[dg.AssetsDefinition]:
    """Load every model (failing on unknown tables or cycles) and build its asset."""
    models = load_models([*all_raw_tables(), *PYTHON_TABLES])
    defined = {*raw_tables, *PYTHON_TABLES, *(m.table for m in models)}
    return [build_model_asset(m, defined) for m in models]
