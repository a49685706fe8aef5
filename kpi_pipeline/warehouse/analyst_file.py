"""The analysts' file as they open it: a storage version their DuckDB reads, the views for the
common questions, and a comment on every table, view and column (README "For analysts").

DuckDB 2.0 writes files that DuckDB 1.x cannot open. The published copies (a business's
``analytics.duckdb``, the portfolio's ``portfolio_analytics.duckdb``) are written with
``STORAGE_VERSION`` instead, which the long-term-support line (1.4) and every later DuckDB reads;
the pipeline's own warehouse keeps DuckDB's default.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from kpi_pipeline.sql.analytics_views import VIEWS
from kpi_pipeline.sql.descriptions import column_description, table_description
from kpi_pipeline.warehouse.raw_loads import load_memory

STORAGE_VERSION = "v1.4.0"  # DuckDB 1.4 (LTS) and later open it (README "For analysts")
ALIAS = "published"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _name(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@contextlib.contextmanager
def new_copy(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose default database is a new file at ``path`` in ``STORAGE_VERSION``, under
    a bounded memory (DuckDB spills beyond it); detached (and so checkpointed) on leaving."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)  # a log left beside a killed one
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"set memory_limit = '{load_memory()}'")
        con.execute(
            f"attach {_text(str(path))} as {ALIAS} (storage_version {_text(STORAGE_VERSION)})"
        )
        con.execute(f"use {ALIAS}")
        yield con
        con.execute("use memory")
        con.execute(f"detach {ALIAS}")
    finally:
        con.close()


def write_analyst_copy(
    source: str | Path, dest: Path, halfway: Callable[[], None] | None = None
) -> None:
    """Write ``source`` (a warehouse, not being written meanwhile) into a new file ``dest`` that
    analysts' DuckDB opens, with its views and comments, flushed to the disk before anyone renames
    it into place (a rename is durable before the data it names is). ``halfway`` is called once the
    tables are copied (a test's fault point)."""
    with new_copy(dest) as con:
        con.execute(f"attach {_text(str(source))} as warehouse (read_only)")
        con.execute(f"copy from database warehouse to {ALIAS}")
        con.execute("detach warehouse")
        if halfway is not None:
            halfway()
        describe(con)
    with open(dest, "rb") as written:
        os.fsync(written.fileno())


def describe(con: duckdb.DuckDBPyConnection) -> None:
    """Create the analysts' views in the published copy and comment every table, view and column
    with the text Dagster shows (:mod:`kpi_pipeline.sql.descriptions`)."""
    tables = {
        s
        for (s,) in con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() where database_name = ?",
            [ALIAS],
        ).fetchall()
    }
    if {"snapshots.kpi_snapshots", "kpis.catalog", "kpis.parameters"} <= tables:
        for view, (sql, _, _) in VIEWS.items():
            try:
                con.execute(f"create or replace view {view} as {sql}")
            except duckdb.BinderException:
                # a warehouse an earlier release built (no kpis.catalog.decimals), published again
                # by `kpi doctor --repair`: its views come with the next sync
                continue
    statements = []
    for kind, schema, name in con.execute(
        "select 'table', schema_name, table_name from duckdb_tables() where database_name = ?1 "
        "union all select 'view', schema_name, view_name from duckdb_views() "
        "where database_name = ?1 and not internal",
        [ALIAS],
    ).fetchall():
        qualified = f"{_name(schema)}.{_name(name)}"
        text = table_description(f"{schema}.{name}")
        statements.append(f"comment on {kind} {qualified} is {_text(text)}")
    for schema, name, column in con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where database_name = ? and not internal",
        [ALIAS],
    ).fetchall():
        text = column_description(f"{schema}.{name}", column)
        statements.append(
            f"comment on column {_name(schema)}.{_name(name)}.{_name(column)} is {_text(text)}"
        )
    if statements:  # one transaction: one commit for them all
        con.execute("begin transaction;\n" + ";\n".join(statements) + ";\ncommit")
