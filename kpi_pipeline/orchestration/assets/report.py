"""The HTML scorecard and the published copy of the warehouse for analysts.

Jinja, Babel and pandas are imported inside the asset bodies, to keep loading the definitions cheap.
"""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import os

import dagster as dg

from kpi_pipeline import version
from kpi_pipeline.config.settings import PUBLISHED_FILE, Settings
from kpi_pipeline.orchestration.assets.keys import ALERTS_KEY, PUBLISH_KEY, REPORT_KEY, table_key
from kpi_pipeline.orchestration.assets.metadata import published_schemas
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.sources.windows import resolve_as_of
from kpi_pipeline.warehouse.database import StorageError, storage_problem


def report_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    pool = settings.writer_pool  # one writer of this business's warehouse at a time

    @dg.asset(
        key=REPORT_KEY,
        deps=[table_key("snapshots.kpi_snapshots")],
        group_name="reports",
        kinds={"python", "html"},
    )
    def scorecard(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """data/reports/scorecard.html: the current month, quarter and year by domain,
        with trends."""
        # late: pandas, ~0.6 s of every load of the definitions (UI, daemon, run); Babel, Jinja
        from kpi_pipeline.reporting.html import scorecard_html
        from kpi_pipeline.reporting.i18n import Formatter
        from kpi_pipeline.reporting.model import REPORT_GRAINS
        from kpi_pipeline.reporting.moment import load

        as_of = resolve_as_of(settings, context.run.tags)
        wh = warehouse.get()
        with wh.reader():  # one open of the file for the scorecard's queries
            card = load(wh.query_df, settings, as_of, REPORT_GRAINS["html"])
        path = settings.reports_dir / "scorecard.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(
                scorecard_html(card, Formatter(settings.language, settings.currency), version()),
                encoding="utf-8",
            )
            os.replace(tmp, path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise StorageError(
                storage_problem(err, path) or f"writing {path} failed: {err}"
            ) from None
        return dg.MaterializeResult(
            metadata={"path": dg.MetadataValue.path(str(path)), "kpis": len(card.views[0].cards)}
        )

    @dg.asset(
        key=ALERTS_KEY,
        deps=[REPORT_KEY, table_key("snapshots.kpi_snapshots")],
        group_name="reports",
        kinds={"python", "duckdb", "slack"},
        pool=pool,
    )
    def alerts(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """snapshots.alerts: the KPI turns announced to alerts.webhook_url (off track, missed, back
        on track), each once; a webhook that fails is retried,
        then tried again after the next run."""
        from kpi_pipeline.reporting.alerts import announce_changes  # late: pandas (see scorecard)

        outcome = announce_changes(
            warehouse.get(), settings, resolve_as_of(settings, context.run.tags)
        )
        context.log.info(f"alerts: {outcome['changes']} KPI turn(s), {outcome['delivery']}")
        return dg.MaterializeResult(
            metadata={
                k: (dg.MetadataValue.md(v) if k == "turned" else v) for k, v in outcome.items()
            }
        )

    @dg.asset(
        key=PUBLISH_KEY,
        deps=[REPORT_KEY, ALERTS_KEY],
        group_name="reports",
        kinds={"duckdb"},
        pool=pool,
    )
    def analytics_duckdb(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """data/analytics.duckdb: the analysts' copy, replaced atomically after a successful run."""
        wh = warehouse.get()
        # a warning, so that `kpi sync` prints where an analyst's writes were kept
        target = wh.publish(
            os.path.join(os.path.dirname(wh.path), PUBLISHED_FILE), say=context.log.warning
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(target)),
                "bytes": target.stat().st_size,
                # what no other asset describes: the analysts' views, the load log, the history
                **published_schemas(target, settings.enabled_sources()),
            }
        )

    return [scorecard, alerts, analytics_duckdb]
