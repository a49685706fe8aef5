"""Python assets of the KPI layer: catalog, calendar windows, targets, snapshots.

The modules that do the work (pandas, Babel) are imported inside the asset bodies: every process
that loads the definitions (the UI, each run, each test) would pay for them otherwise.
"""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import datetime as dt
from typing import TYPE_CHECKING, Any

import dagster as dg

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.cohorts import MEMBERS_TABLE, read_cohorts
from kpi_pipeline.kpi.coverage import Coverage, coverage_table
from kpi_pipeline.orchestration.assets.keys import table_key
from kpi_pipeline.orchestration.assets.metadata import table_metadata
from kpi_pipeline.orchestration.assets.raw import raw_tables
from kpi_pipeline.orchestration.kpi_checks import (
    check_results,
    kpi_check_specs,
    status_line,
    verdicts,
)
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.orchestration.schedules import nightly_freshness
from kpi_pipeline.sources.windows import resolve_as_of
from kpi_pipeline.warehouse.database import Warehouse

if TYPE_CHECKING:
    import pandas as pd


def kpi_assets(settings: Settings, models: set[str]) -> list[dg.AssetsDefinition]:
    """The KPI layer's Python assets; ``models``: the tables of the business's SQL models (the
    snapshots read the conversion cohorts where a configured source feeds them)."""
    pool = settings.writer_pool  # one writer of this business's warehouse at a time

    @dg.asset(
        key=table_key("kpis.catalog"), group_name="kpis", kinds={"python", "duckdb"}, pool=pool
    )
    def catalog(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Every KPI of this configuration: label, domain, unit, direction, aggregation, formula."""
        # late: pandas, ~0.6 s of every load of the definitions (UI, daemon, run)
        from kpi_pipeline.kpi.calendar import catalog_frame

        return _written(warehouse.get(), "kpis.catalog", catalog_frame(settings))

    @dg.asset(
        key=table_key("kpis.parameters"), group_name="kpis", kinds={"python", "duckdb"}, pool=pool
    )
    def parameters(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Settings the SQL models read: which event types are intro calls,
        which stages are leads."""
        from kpi_pipeline.kpi.calendar import parameters_frame  # late: pandas (see catalog)

        return _written(warehouse.get(), "kpis.parameters", parameters_frame(settings))

    @dg.asset(
        key=table_key("kpis.calendar_windows"),
        group_name="kpis",
        kinds={"python", "duckdb"},
        pool=pool,
    )
    def calendar(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Every period up to as-of, with its like-for-like comparison windows."""
        from kpi_pipeline.kpi.calendar import calendar_windows  # late: pandas (see catalog)

        as_of = resolve_as_of(settings, context.run.tags)
        return _written(
            warehouse.get(),
            "kpis.calendar_windows",
            calendar_windows(settings, as_of),
            as_of=str(as_of),
        )

    @dg.asset(
        key=table_key("kpis.coverage"),
        group_name="kpis",
        kinds={"python", "duckdb"},
        pool=pool,
        deps=[table_key(t) for t in raw_tables(settings)],
    )
    def coverage(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Days each source covered: a covered day without events counts 0,
        an uncovered one is unknown."""
        wh = warehouse.get()
        with wh.writer():
            return _written(
                wh,
                "kpis.coverage",
                coverage_table(wh, settings, resolve_as_of(settings, context.run.tags)),
            )

    @dg.asset(
        key=table_key("snapshots.targets"),
        group_name="snapshots",
        kinds={"python", "duckdb"},
        pool=pool,
    )
    def targets(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """The targets of kpi.yaml in force for every period."""
        from kpi_pipeline.kpi.calendar import targets_frame  # late: pandas (see catalog)

        return _written(
            warehouse.get(),
            "snapshots.targets",
            targets_frame(settings, resolve_as_of(settings, context.run.tags)),
        )

    snapshots_key = table_key("snapshots.kpi_snapshots")

    @dg.asset(
        key=snapshots_key,
        # a check per scored KPI, its verdict from this step's rows: no step of their own
        check_specs=kpi_check_specs(settings, snapshots_key),
        deps=[
            table_key("kpis.kpi_window_values"),
            table_key("snapshots.targets"),
            table_key("kpis.kpi_values"),
            *([table_key(MEMBERS_TABLE)] if MEMBERS_TABLE in models else []),
        ],
        group_name="snapshots",
        kinds={"python", "duckdb"},
        pool=pool,
        freshness_policy=nightly_freshness(settings),
    )
    def kpi_snapshots(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Every KPI per week, month, quarter and year against its target;
        history appended per as-of."""
        # late: pandas and Babel (see catalog)
        from kpi_pipeline.reporting.i18n import Formatter
        from kpi_pipeline.reporting.markdown import markdown
        from kpi_pipeline.reporting.model import Scorecard, build_views

        as_of = resolve_as_of(settings, context.run.tags)
        wh = warehouse.get()
        with wh.writer():  # one open of the file for the snapshots and their description
            rows = write_snapshots(wh, settings, as_of)
            described = table_metadata(wh, "snapshots.kpi_snapshots", len(rows))
        fmt = Formatter(settings.language, settings.currency)
        found = verdicts(rows, settings, as_of)
        selected = {key.name for key in context.selected_asset_check_keys}
        card = Scorecard(
            settings.business,
            as_of,
            settings.demo,
            settings.currency,
            build_views(rows, settings, as_of, ("month", "quarter")),
            {},
        )
        return dg.MaterializeResult(
            metadata={
                "scorecard": dg.MetadataValue.md(
                    markdown(card, fmt)
                ),  # the current month and quarter
                # the checks' verdicts, each count beside the period it is of
                "status": status_line(found, fmt),
                "as_of": str(as_of),
                "rows": len(rows),
                "kpis_warning": sum(not v.passed for v in found),  # the checks that warn
                **described,
            },
            check_results=check_results(found, selected),
        )

    return [catalog, parameters, calendar, coverage, targets, kpi_snapshots]


def _written(wh: Warehouse, table: str, frame: Any, **metadata: Any) -> dg.MaterializeResult:
    """Replace ``table`` with ``frame`` and describe it, in one open of the warehouse."""
    with wh.writer():
        wh.write_frame(table, frame)
        return dg.MaterializeResult(
            metadata={"rows": len(frame), **metadata, **table_metadata(wh, table)}
        )


def write_snapshots(wh: Warehouse, settings: Settings, as_of: dt.date) -> "pd.DataFrame":
    """Compute snapshots for as-of; keep final rows as they were; append to history."""
    # late: pandas (see catalog)
    import pandas as pd

    from kpi_pipeline.kpi.scorecard import build_snapshots  # late: pandas

    values = wh.query_df(
        "select * from kpis.kpi_window_values where business_id = ? and grain <> 'day'",
        [settings.business_id],
    )
    previous_final = None
    if wh.table_exists("snapshots.kpi_snapshots"):
        previous_final = wh.query_df(
            "select * from snapshots.kpi_snapshots where business_id = ? and is_final",
            [settings.business_id],
        )
    frame = build_snapshots(
        settings,
        as_of,
        values,
        Coverage.read(wh, settings, as_of),
        previous_final,
        cohorts=read_cohorts(wh, settings, as_of),
    )
    for column in ("period_start", "period_end", "as_of"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    for column, sql_type in (("projection_method", "varchar"), ("status_reason", "varchar")):
        frame[column] = frame[column].astype("string")  # VARCHAR even when every value is null
        for table in ("snapshots.kpi_snapshots", "snapshots.kpi_snapshot_history"):
            if wh.table_exists(table):  # a warehouse from before these columns: add them
                with wh.writer() as con:
                    con.execute(f"alter table {table} add column if not exists {column} {sql_type}")
    wh.write_frame(
        "snapshots.kpi_snapshots",
        frame,
        mode="append",
        delete_where="business_id = ?",
        params=[settings.business_id],
    )
    current = frame[frame["as_of"] == as_of]
    wh.write_frame(
        "snapshots.kpi_snapshot_history",
        current,
        mode="append",
        delete_where="business_id = ? and as_of = ?",
        params=[settings.business_id, as_of],
    )
    return frame
