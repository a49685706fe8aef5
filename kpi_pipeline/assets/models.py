"""Model assets: one per SQL file in dbt_like_sql/, dependencies parsed from the SQL."""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import hashlib

import dagster as dg

from kpi_pipeline.assets.keys import group_for, table_key
from kpi_pipeline.models import Model, load_models
from kpi_pipeline.resources import WarehouseResource

PYTHON_TABLES = ("kpis.catalog", "kpis.calendar_windows")


def build_model_asset(model: Model) -> dg.AssetsDefinition:
    @dg.asset(
        key=table_key(model.table),
        deps=[table_key(dep) for dep in sorted(model.deps)],
        group_name=group_for(model.table),
        kinds={"sql", "duckdb"},
        pool="duckdb",
        description=model.description or None,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata={"file": str(model.path.relative_to(model.path.parents[1]))},
    )
    def sql_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        rows = warehouse.get().rebuild(model.table, model.sql)
        context.log.info(f"{model.table}: {rows} rows")
        return dg.MaterializeResult(metadata={"rows": rows})

    return sql_model


def model_assets(raw_tables: list[str]) -> list[dg.AssetsDefinition]:
    """Load every model (failing on unknown tables or cycles) and build its asset."""
    return [build_model_asset(m) for m in load_models([*raw_tables, *PYTHON_TABLES])]
