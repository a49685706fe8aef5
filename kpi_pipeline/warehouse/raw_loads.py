"""Raw loads swapped in whole: a load's rows staged in the file, checked, then one transaction
deletes what they replace (a date range, their keys, or all the business's rows) and inserts them.

A failure at any point leaves the previous rows; the fault points of
:mod:`kpi_pipeline.warehouse.faults` are the moments tests kill a load at.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Sequence

import duckdb
import pyarrow as pa

from kpi_pipeline.warehouse.faults import fault_point
from kpi_pipeline.warehouse.statements import _rollback, count_of, ident

LOAD_MEMORY = "64MB"  # DuckDB's memory while a load stages its pages (env KPI_LOAD_MEMORY)
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$", re.IGNORECASE)


def load_memory() -> str:
    """KPI_LOAD_MEMORY (default 64MB), refused unless it is a size DuckDB reads, like 256MB."""
    value = os.environ.get("KPI_LOAD_MEMORY", LOAD_MEMORY).strip()
    if not _SIZE.match(value):
        raise ValueError(
            f"KPI_LOAD_MEMORY: {value!r} is not a size like 64MB or 1GB; nothing was loaded"
        )
    return value


def swap_in(
    con: duckdb.DuckDBPyConnection,
    business_id: str,
    table: str,
    name: str,
    key: Sequence[str],
    batches: Iterable[pa.Table],
    on_commit: Callable[[duckdb.DuckDBPyConnection, int], None] | None,
    date_range: tuple[str, dt.date, dt.date] | None,
    whole: bool = False,
) -> int:
    """Stage the batches beside ``name`` (``raw.<table>``), check them, then delete what they
    replace and insert them in one transaction: the rows of a date range (``date_range``), of
    their keys, or all the business's (``whole``). Returns the number of rows inserted."""
    staging = f"raw._incoming_{ident(table)}"
    con.execute(f"create or replace table {staging} as select * from {name} limit 0")
    try:
        # the staged rows are a table of the file, and DuckDB keeps at most this much of
        # them in memory: a million records cost about what a hundred thousand do
        con.execute(f"set memory_limit = '{load_memory()}'")
        for batch in batches:
            con.register("_batch", batch)
            con.execute(f"insert into {staging} by name select * from _batch")
            con.unregister("_batch")
        outside = 0
        if date_range is not None:
            date_column, start, end = date_range
            outside = count_of(
                con,
                f"select count(*) from {staging} where {ident(date_column)} not between ? "
                f"and ? or {ident(date_column)} is null",
                [start, end],
            )
        foreign = count_of(
            con,
            f"select count(*) from {staging} where business_id is distinct from ?",
            [business_id],
        )
        if foreign:
            raise ValueError(
                f"raw.{table}: {foreign} row(s) belong to another business; nothing loaded"
            )
        keys = ", ".join(ident(k) for k in key)
        dupes = count_of(con, f"select count(*) - count(distinct ({keys})) from {staging}")
        if outside or dupes:
            why = (
                f"{outside} row(s) fall outside {start}..{end}"
                if outside
                else f"{dupes} row(s) repeat the key ({keys})"
            )
            raise ValueError(f"raw.{table}: {why}; nothing loaded")
        try:
            con.execute("begin transaction")
            if date_range is not None:
                con.execute(
                    f"delete from {name} where business_id = ? and {ident(date_column)} "
                    "between ? and ?",
                    [business_id, start, end],
                )
            elif whole:
                con.execute(f"delete from {name} where business_id = ?", [business_id])
            else:  # the staged rows are all the business's (checked above)
                same = " and ".join(f"{name}.{ident(k)} = s.{ident(k)}" for k in key)
                con.execute(
                    f"delete from {name} using {staging} as s where {name}.business_id = ? "
                    f"and {same}",
                    [business_id],
                )
            fault_point("load:after_delete")
            con.execute(f"insert into {name} by name select * from {staging}")
            count = count_of(con, f"select count(*) from {staging}")
            fault_point("load:after_insert")
            if on_commit is not None:
                on_commit(con, count)
            fault_point("load:before_commit")
            con.execute("commit")
        except Exception:
            _rollback(con)
            raise
    finally:  # loaded or not, nothing staged is left behind (nor published)
        with contextlib.suppress(duckdb.Error):
            con.execute(f"drop table if exists {staging}")
        with contextlib.suppress(duckdb.Error):
            con.execute("reset memory_limit")
    return count
