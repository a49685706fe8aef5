"""Dagster's metadata conventions for a warehouse table: row count, column schema,
code reference."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from kpi_pipeline.sql.analytics_views import VIEWS
from kpi_pipeline.sql.descriptions import column_description
from kpi_pipeline.warehouse.database import Warehouse


def table_metadata(source: Warehouse | Any, table: str, rows: int | None = None) -> dict[str, Any]:
    """``dagster/row_count`` and ``dagster/column_schema`` of a table as it now is in DuckDB
    (``source``: the warehouse, or an open connection to it, which saves opening another)."""
    if isinstance(source, Warehouse):
        with source.reader() as con:
            return table_metadata(con, table, rows)
    schema, name = table.split(".", 1)
    columns = source.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? "
        "and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    if rows is None:
        rows = (
            source.execute(f"select count(*) from {schema}.{name}").fetchone()[0] if columns else 0
        )
    return {
        "dagster/row_count": int(rows),
        "dagster/column_schema": column_schema(table, columns),
    }


def column_schema(table: str, columns: list[tuple[str, str]]) -> dg.TableSchema:
    """Dagster's column schema of ``table``: each (name, type) with the description the published
    copy's comment carries too (:mod:`kpi_pipeline.sql.descriptions`)."""
    return dg.TableSchema(
        columns=[dg.TableColumn(c, t, description=column_description(table, c)) for c, t in columns]
    )


# tables of the published copy no asset of their own describes (written beside another one's; the
# alerts asset's metadata is what it sent)
UNDESCRIBED = ("raw._loads", "snapshots.kpi_snapshot_history", "snapshots.alerts")


def published_schemas(path: Path, configured: Iterable[str]) -> dict[str, Any]:
    """``columns of <view or table>``: the column schema, with descriptions, of each analysts' view
    of the published copy and of the tables no asset of their own describes (among them the raw
    tables of platforms not ``configured`` that a shared model reads, empty)."""
    own = {f"raw.{source}__" for source in configured}
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select schema_name || '.' || table_name, column_name, data_type from duckdb_columns() "
            "where database_name = current_database() and not internal "
            "order by schema_name, table_name, column_index"
        ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        raw_elsewhere = table.startswith("raw.") and not any(table.startswith(o) for o in own)
        if table in VIEWS or table in UNDESCRIBED or raw_elsewhere:
            columns.setdefault(table, []).append((column, kind))
    return {
        f"columns of {table}": dg.TableSchemaMetadataValue(column_schema(table, cols))
        for table, cols in columns.items()
    }


def code_reference(path: Path, line: int = 1) -> dict[str, Any]:
    """``dagster/code_references`` to a file of this project (the UI links it)."""
    return {
        "dagster/code_references": dg.CodeReferencesMetadataValue(
            code_references=[
                dg.LocalFileCodeReference(file_path=str(path.resolve()), line_number=line)
            ]
        )
    }
