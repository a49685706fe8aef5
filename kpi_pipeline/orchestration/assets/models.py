"""Model assets: one per SQL file in dbt_like_sql/, dependencies parsed from the SQL; a business's
models are built in one step (one subsettable multi-asset) rather than a step each."""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import hashlib
from collections.abc import Iterator

import dagster as dg

from connectors.registry import platforms, streams
from kpi_pipeline.orchestration.assets.keys import group_for, table_key
from kpi_pipeline.orchestration.assets.metadata import code_reference, table_metadata
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.sources.windows import PROGRESS_MARK
from kpi_pipeline.sql.checks import DECLARED, HISTORY, ROW_COUNT, row_count_anomaly, run_checks
from kpi_pipeline.sql.models import PYTHON_TABLES, Model
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import ensure_tables
from kpi_pipeline.warehouse.storage import StorageError, storage_problem

MODELS_STEP = "sql_models"  # the one step (op) that builds a business's models


def model_spec(model: Model, defined: set[str]) -> dg.AssetSpec:
    """The asset of one model, as the UI shows it: its SQL, lineage, group and kinds."""
    return dg.AssetSpec(
        key=table_key(model.table),
        deps=[table_key(dep) for dep in sorted(model.deps) if dep in defined],
        group_name=group_for(model.table),
        kinds={"sql", "duckdb"},
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
    )


def model_check_specs(model: Model) -> list[dg.AssetCheckSpec]:
    """What checks.yml declares (blocking), then the row count against past builds (a warning)."""
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
    return specs


def build_models_asset(models: list[Model], defined: set[str], pool: str) -> dg.AssetsDefinition:
    """One step for ``models`` (in dependency order) that builds those selected, in that order.

    Dagster stops a step's dependents when its blocking check fails; within this step that is
    done here: a model downstream of one whose blocking check failed (or whose build failed) is
    not built, and the step fails once the rest is built, so that the steps after it do not run.
    """

    @dg.multi_asset(
        name=MODELS_STEP,
        specs=[model_spec(m, defined) for m in models],
        check_specs=[spec for m in models for spec in model_check_specs(m)],
        can_subset=True,
        pool=pool,
    )
    def sql_models(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        wh = warehouse.get()
        # each selected model's key as this definition has it (a portfolio's business puts its
        # slug in front of every key, keeping the output names): found through its output's name
        selected = context.assets_def.keys_by_output_name  # the selected outputs only
        keys = {
            m.table: selected[out]
            for m in models
            if (out := table_key(m.table).to_python_identifier()) in selected
        }
        chosen = [m for m in models if keys.get(m.table) in context.selected_asset_keys]
        # a raw table not loaded yet (one this run did not select on a new warehouse, or another
        # source's that a model of this business reads as well) is read empty
        raw = {dep.removeprefix("raw.") for m in chosen for dep in m.deps if dep.startswith("raw.")}
        if raw:
            ensure_tables(
                wh,
                [
                    spec
                    for name in platforms()
                    for spec in streams(name).values()
                    if spec.table in raw
                ],
            )
        stopped: dict[str, str] = {}  # table whose dependents are not built -> why
        errors: list[Exception] = []
        with wh.writer():  # one open of the file for every model (a nested writer reuses it)
            for model in chosen:
                name = keys[model.table].to_user_string()
                upstream = sorted(model.deps & stopped.keys())
                if upstream:
                    stopped[model.table] = stopped[upstream[0]]
                    context.log.warning(f"{name} not built: upstream, {stopped[model.table]}")
                    continue
                try:
                    result = build_model(context, wh, model, keys[model.table])
                except Exception as err:  # noqa: BLE001 - its dependents stop, the others build
                    if isinstance(err, StorageError) or storage_problem(err, wh.path):
                        # a full disk would fail every later model the same way
                        raise
                    context.log.error(f"{name} failed: {err}")
                    stopped[model.table] = f"{name} failed"
                    errors.append(err)
                    continue
                yield result
                if any(
                    not r.passed and r.severity == dg.AssetCheckSeverity.ERROR
                    for r in result.check_results or []
                ):
                    stopped[model.table] = f"{name} did not pass its blocking check"
        if errors:  # Dagster fails the step itself for a failed blocking check once all is yielded
            raise errors[0]

    return sql_models


def build_model(
    context: dg.AssetExecutionContext, wh: Warehouse, model: Model, key: dg.AssetKey
) -> dg.MaterializeResult:
    """Rebuild one model's table, check it and describe it (``key``: its asset's)."""
    with wh.writer() as con:  # the step's open connection
        rows = wh.rebuild(model.table, model.sql)
        found = run_checks(con, model.table, model.checks)
        metadata = table_metadata(con, model.table, rows)
    context.log.info(f"{PROGRESS_MARK}built {key.to_user_string()}: {rows} rows")
    selected = context.selected_asset_check_keys
    results = []
    if found and dg.AssetCheckKey(key, DECLARED) in selected:
        # one result for what checks.yml declares: each condition's outcome in its metadata
        failed = [name for name, passed, _ in found if not passed]
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name=DECLARED,
                passed=not failed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "failed": ", ".join(failed) or "none",
                    **{f"{name}: {k}": v for name, _, meta in found for k, v in meta.items()},
                },
            )
        )
    if dg.AssetCheckKey(key, ROW_COUNT) in selected:
        passed, why = row_count_anomaly(rows, previous_row_counts(context, key))
        results.append(
            dg.AssetCheckResult(
                asset_key=key,
                check_name=ROW_COUNT,
                passed=passed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows": rows, "why": why},
            )
        )
    return dg.MaterializeResult(
        asset_key=key, metadata={"rows": rows, **metadata}, check_results=results
    )


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
    """The assets (in ``pool``, one step) of a business's models
    (:func:`kpi_pipeline.sql.models.business_models`, in dependency order)."""
    defined = {*raw_tables, *PYTHON_TABLES, *(m.table for m in models)}
    return [build_models_asset(models, defined, pool)] if models else []
