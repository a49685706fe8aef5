"""Raw assets: one per stream of every enabled source, from one factory."""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
import datetime as dt
import sys
from pathlib import Path

import dagster as dg

from connectors.errors import ConnectorError
from connectors.http import redact
from connectors.registry import connect, streams
from connectors.streams import StreamSpec
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.orchestration.assets.keys import group_for, table_key
from kpi_pipeline.orchestration.assets.metadata import code_reference, table_metadata
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.orchestration.schedules import nightly_freshness
from kpi_pipeline.sources.windows import (
    PROGRESS_MARK,
    resolve_as_of,
    source_settings,
    stream_context,
    stream_window,
    tag_span,
)
from kpi_pipeline.warehouse.database import StorageError, Warehouse
from kpi_pipeline.warehouse.loading import load_stream


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Business-local days from history_start; the last one is yesterday."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.history_start.isoformat(), timezone=settings.timezone
    )


def build_raw_asset(
    settings: Settings, spec: StreamSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    """A daily-partitioned asset for a stream that returns data by day; one unpartitioned asset
    (its table keeps the history) for point-in-time values, month keys and whole-history streams."""
    table = f"raw.{spec.table}"
    connector_file = sys.modules[spec.fetch.__module__].__file__
    assert connector_file, f"{spec.fetch.__module__} has no file"  # a connector is a module on disk

    @dg.asset(
        key=table_key(table),
        group_name=group_for(table),
        kinds={"python", "duckdb", spec.source},
        partitions_def=partitions if spec.daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if spec.daily else None,
        pool=settings.stream_pool(spec.source),
        freshness_policy=nightly_freshness(settings),
        description=spec.description,
        metadata={
            **code_reference(Path(connector_file)),  # the connector
            "primary_key": list(spec.key),
            "date_key": spec.date_column,
            "lookback_days": spec.lookback_days,
            "history": spec.history_note or "all dates",
        },
    )
    def raw_stream(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        as_of = resolve_as_of(settings, context.run.tags)
        span: tuple[dt.date, dt.date] | None
        if spec.daily:
            days = context.partition_time_window
            span = days.start.date(), (days.end - dt.timedelta(days=1)).date()
        else:
            span = tag_span(context.run.tags)
        wh = warehouse.get()
        window = stream_window(
            settings, spec, as_of, span, context.run.tags, loaded_until(wh, spec)
        )
        ctx = stream_context(settings, as_of)
        if window is None:
            context.log.info(
                f"{spec.source}/{spec.name}: nothing to fetch for {span} (as-of {as_of})"
            )
            return dg.MaterializeResult(metadata={"rows": 0, "requests": 0, "window": "none"})
        try:
            client = connect(spec.source, source_settings(settings, spec.source, as_of))
            with wh.writer():  # the load and the table's description share one open of the file
                result = load_stream(
                    spec,
                    client,
                    window,
                    ctx,
                    wh,
                    progress=lambda text: context.log.info(PROGRESS_MARK + text),
                )
                # a daily stream's row count is that of the days it loaded; another's,
                # its whole table
                described = table_metadata(wh, table, result.rows if spec.daily else None)
        except (ConnectorError, StorageError):
            raise  # their messages are in words and redacted already
        except (
            Exception
        ) as err:  # an SDK's or library's own error may quote a credential: never let it through
            raise RuntimeError(
                f"{spec.source}/{spec.name}: {redact(f'{type(err).__name__}: {err}')}"
            ) from None
        for warning in result.warnings:
            context.log.warning(redact(warning))
        context.log.info(
            f"{spec.source}/{spec.name}: {result.rows} rows for {result.window or 'nothing'} "
            f"in {result.requests} requests, {result.seconds:.1f}s"
        )
        return dg.MaterializeResult(
            metadata={
                **described,
                "rows": result.rows,
                "requests": result.requests,
                "retries": result.retries,
                "seconds": result.seconds,
                "window": spec.describe_window(result.window) if result.window else "none",
                "as_of": str(as_of),
                "history_unavailable": "\n".join(result.warnings) or "none",
            }
        )

    return raw_stream


def loaded_until(wh: Warehouse, spec: StreamSpec) -> dt.date | None:
    """The last day the stream's loads have covered (raw._loads), None before its first load."""
    with wh.reader():  # one open of the file for both
        if not wh.table_exists("raw._loads"):
            return None
        return wh.query(
            "select max(window_end) from raw._loads where business_id = ? and "
            "source = ? and stream = ?",
            [wh.business_id, spec.source, spec.name],
        )[0][0]


def raw_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    partitions = daily_partitions(settings)
    return [
        build_raw_asset(settings, spec, partitions)
        for source in settings.enabled_sources()
        for spec in streams(source).values()
    ]


def raw_tables(settings: Settings) -> list[str]:
    """Raw tables of the enabled sources (each one an asset)."""
    return [
        f"raw.{spec.table}"
        for source in settings.enabled_sources()
        for spec in streams(source).values()
    ]
