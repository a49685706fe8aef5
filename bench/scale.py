"""The KPI build at scale: a warehouse made N times the demo's volume, built by our code and by
the same SQL run straight in DuckDB."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import duckdb

# the columns that tell one copy of a record from another: ids, URIs, person keys, GA4's channel
# (the dimension of its rows); the KPI ids of the manual CSV stay as they are
_SUFFIXED = ("_id", "_uri", "_key")


def scaled_copy(source: Path, target: Path, copies: int) -> int:
    """``source`` with every raw table's records repeated ``copies`` times, each copy's ids
    suffixed ``~k`` (so they are other customers, campaigns, members); returns the raw rows."""
    shutil.copy(source, target)
    con = duckdb.connect(str(target))
    total = 0
    tables = [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name not like '\\_%' escape '\\' order by 1"
        ).fetchall()
    ]
    for table in tables:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = "
            "'raw' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        marked = {
            c
            for c, t in columns
            if t == "VARCHAR" and c != "kpi_id" and (c.endswith(_SUFFIXED) or c == "channel")
        }
        if marked:
            select = ", ".join(
                f"{c} || '~' || copy_no::varchar as {c}" if c in marked else c for c, _ in columns
            )
            con.execute(f"create temp table base as select * from raw.{table}")
            con.execute(
                f"insert into raw.{table} select {select} from base, range(1, {copies}) "
                "copies(copy_no)"
            )
            con.execute("drop table base")
        total += con.execute(f"select count(*) from raw.{table}").fetchone()[0]
    con.execute("checkpoint")
    con.close()
    return total


def build_ours(path: Path, settings, as_of: dt.date) -> float:
    """Our path: the Python tables, every model in order, then the snapshots (seconds)."""
    from kpi_pipeline.orchestration.assets.snapshots import write_snapshots
    from kpi_pipeline.sql.build import run_models
    from kpi_pipeline.warehouse.database import Warehouse

    wh = Warehouse(path, settings.business_id)
    start = time.perf_counter()
    with wh.writer():  # as one process building everything would: the file opened once
        run_models(wh, settings, as_of)
        write_snapshots(wh, settings, as_of)
    return time.perf_counter() - start


def build_bare(path: Path) -> float:
    """The same model SQL straight in DuckDB: one connection, each model a `create or replace`."""
    from kpi_pipeline.sql.models import PYTHON_TABLES, all_raw_tables, load_models

    models = load_models([*all_raw_tables(), *PYTHON_TABLES])
    start = time.perf_counter()
    con = duckdb.connect(str(path))
    for model in models:
        con.execute(f"create or replace table {model.table} as {model.sql}")
    con.close()
    return time.perf_counter() - start
