"""Model assets: one per SQL file in dbt_like_sql/, dependencies parsed from the SQL."""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import hashlib

import dagster as dg

from connectors.registry import SOURCES
from kpi_pipeline.orchestration.assets.keys import group_for, table_key
from kpi_pipeline.orchestration.assets.metadata import code_reference, table_metadata
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.sql.checks import DECLARED, HISTORY, ROW_COUNT, row_count_anomaly, run_checks
from kpi_pipeline.sql.models import PYTHON_TABLES, Model
from kpi_pipeline.warehouse.loading import ensure_tables


def build_model_asset(model: Model, defined: set[str], pool: str) -> dg.AssetsDefinition:
    # a raw table not loaded yet (one this run did not select on a new warehouse, or another
    # source's that a model of this business reads as well) is read empty
    raw_deps = [f.removeprefix("raw.") for f in sorted(model.deps) if f.startswith("raw.")]
    key = table_key(model.table)
    specs = (
        [
            dg.AssetCheckSpec(
                DECLARED,
                asset=key,
                blocking=True,
                description=f"{model.checks.describe()} (checks.yml)",
            )
        ]
        if model.checks.names()
        else []
    )
    specs.append(
        dg.AssetCheckSpec(
            ROW_COUNT,
            asset=key,
            description="No sudden drop in rows against the "
            "previous builds (a warning: a platform may have lost data)",
        )
    )

    @dg.asset(
        key=key,
        deps=[table_key(dep) for dep in sorted(model.deps) if dep in defined],
        group_name=group_for(model.table),
        kinds={"sql", "duckdb"},
        pool=pool,
        description=model.description or None,
        code_version=hashlib.sha256(model.sql.encode()).hexdigest()[:12],
        metadata={
            "file": str(model.path.relative_to(model.path.parents[1])),
            **code_reference(model.path),
            # a model generated from the catalog has no file of its own to read: show its SQL
            **(
                {"sql": dg.MetadataValue.md(f"```sql\n{model.sql}```")}
                if model.path.suffix != ".sql"
                else {}
            ),
        },
        check_specs=specs,
    )
    def sql_model(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        wh = warehouse.get()
        with wh.writer() as con:  # one open of the file for the build, its checks and its metadata
            if raw_deps:
                ensure_tables(
                    wh,
                    [
                        spec
                        for _, specs in SOURCES.values()
                        for spec in specs.values()
                        if spec.table in raw_deps
                    ],
                )
            rows = wh.rebuild(model.table, model.sql)
            found = run_checks(con, model.table, model.checks)
            metadata = table_metadata(con, model.table, rows)
        context.log.info(f"{model.table}: {rows} rows")
        results = []
        if (
            found
        ):  # one result for what checks.yml declares: each condition's outcome in its metadata
            failed = [name for name, passed, _ in found if not passed]
            results.append(
                dg.AssetCheckResult(
                    check_name=DECLARED,
                    passed=not failed,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        "failed": ", ".join(failed) or "none",
                        **{f"{name}: {k}": v for name, _, meta in found for k, v in meta.items()},
                    },
                )
            )
        passed, why = row_count_anomaly(rows, previous_row_counts(context, context.asset_key))
        results.append(
            dg.AssetCheckResult(
                check_name=ROW_COUNT,
                passed=passed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows": rows, "why": why},
            )
        )
        return dg.MaterializeResult(metadata={"rows": rows, **metadata}, check_results=results)

    return sql_model


def previous_row_counts(context: dg.AssetExecutionContext, key: dg.AssetKey) -> list[int]:
    """Row counts of the asset's last builds, newest first (from Dagster's own records)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key), limit=HISTORY
    ).records
    counts = []
    for record in records:
        value = record.asset_materialization.metadata.get("dagster/row_count")
        if value is not None:
            counts.append(int(value.value))
    return counts


def model_assets(
    models: list[Model], raw_tables: list[str], pool: str
) -> list[dg.AssetsDefinition]:
    """An asset (in ``pool``) for each of a business's models
    (:func:`kpi_pipeline.sql.models.business_models`)."""
    defined = {*raw_tables, *PYTHON_TABLES, *(m.table for m in models)}
    return [build_model_asset(m, defined, pool) for m in models]
