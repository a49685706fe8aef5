"""Dagster's metadata conventions for a warehouse table: row count, column schema,
code reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

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


def code_reference(path: Path, line: int = 1) -> dict[str, Any]:
    """``dagster/code_references`` to a file of this project (the UI links it)."""
    return {
        "dagster/code_references": dg.CodeReferencesMetadataValue(
            code_references=[
                dg.LocalFileCodeReference(file_path=str(path.resolve()), line_number=line)
            ]
        )
    }
