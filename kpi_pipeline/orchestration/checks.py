"""Asset checks: blocking where downstream must not run on bad numbers,
WARN where a human should look."""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import dagster as dg

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.coverage import loaded_through
from kpi_pipeline.orchestration.assets.keys import table_key
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.sources.windows import resolve_as_of


def build_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    values_key = table_key("kpis.kpi_values")

    @dg.asset_check(
        asset=values_key,
        blocking=True,
        description="Shares lie between 0 and 1; no ratio is negative but a growth rate.",
    )
    def ratios_between_zero_and_one(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        # a growth ratio may pass 100% and, net of losses, fall below 0; a share may do neither
        bad = warehouse.get().query(
            "select v.kpi_id, v.grain, v.period_start, v.value from kpis.kpi_values v "
            "join kpis.catalog c using (kpi_id) where c.unit = 'ratio' "
            "and ((v.value < 0 and c.denominator_kpi is null) or (v.value > 1 and c.share)) limit 5"
        )
        return dg.AssetCheckResult(
            passed=not bad, metadata={"examples": str(bad) if bad else "none"}
        )

    @dg.asset_check(
        asset=table_key("snapshots.kpi_snapshots"),
        description="Every source has data through as-of.",
    )
    def sources_fresh(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        as_of = resolve_as_of(settings, context.run.tags)
        coverage = loaded_through(warehouse.get(), settings)
        stale = {
            s: str(coverage.get(s, "never"))
            for s in settings.enabled_sources()
            if coverage.get(s) is None or coverage[s] < as_of
        }
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"as_of": str(as_of), "stale_sources": str(stale or "none")},
        )

    # one row per KPI x grain x period x dimension value: declared in dbt_like_sql/kpis/checks.yml
    return [ratios_between_zero_and_one, sources_fresh]
