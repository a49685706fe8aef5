"""The analysts' file as they open it: a storage version their DuckDB reads, the views for the
common questions, and a comment on every table, view and column (README "For analysts").

DuckDB 2.0 writes files that DuckDB 1.x cannot open. The published copies (a business's
``analytics.duckdb``, the portfolio's ``portfolio_analytics.duckdb``) are written with
``STORAGE_VERSION`` instead, which the long-term-support line (1.4) and every later DuckDB reads.
A warehouse is created in that version too (:func:`create_readable`), so its published copy is a
byte copy of the checkpointed file plus the views and comments; a warehouse an earlier release
created in DuckDB 2.0's version is copied table by table into a new file (``COPY FROM DATABASE``).
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
READABLE_TAG = STORAGE_VERSION + "+"  # duckdb_databases().tags['storage_version'] of such a file
ALIAS = "published"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _name(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def create_readable(path: str | Path) -> None:
    """Create the DuckDB file ``path`` in ``STORAGE_VERSION`` if it does not exist yet (DuckDB
    keeps a file's version for its life; a file that exists is left as it is)."""
    if os.path.exists(path) or str(path).startswith(("md:", "motherduck:", ":memory:")):
        return  # an existing file keeps its version; a service or memory is not a file here
    version = f"storage_version {_text(STORAGE_VERSION)}"
    with duckdb.connect(":memory:") as con:
        con.execute(f"attach {_text(str(path))} as new ({version})")
        con.execute("detach new")


@contextlib.contextmanager
def new_copy(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose default database is a new file at ``path`` in ``STORAGE_VERSION``, under
    a bounded memory (DuckDB spills beyond it); detached (and so checkpointed) on leaving."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)  # a log left beside a killed one
    with _opened(path) as con:
        yield con


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """``path`` (created in ``STORAGE_VERSION`` if new) as the default database of a connection
    under a bounded memory; detached (and so checkpointed) on leaving."""
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


def storage_version_of(path: str | Path) -> str:
    """The storage version DuckDB reports for the file ``path`` (``v1.4.0+``, ``v2.0.0+``)."""
    with duckdb.connect(":memory:") as con:
        con.execute(f"attach {_text(str(path))} as probe (read_only)")
        (tags,) = con.execute(
            "select tags from duckdb_databases() where database_name = 'probe'"
        ).fetchone() or ({},)
        return str(dict(tags or {}).get("storage_version", ""))


def byte_copy(source: str | Path, dest: Path, halfway: Callable[[], None] | None = None) -> None:
    """Copy the file ``source`` to ``dest`` byte for byte; ``halfway`` is called once half of the
    bytes are in ``dest`` (a test's fault point)."""
    size, written = os.path.getsize(source), 0
    with open(source, "rb") as src, open(dest, "wb") as out:
        while chunk := src.read(min(1 << 20, max(size // 2, 1))):
            out.write(chunk)
            written += len(chunk)
            if halfway is not None and written >= size // 2:
                out.flush()  # the half written is in the file, as a kill would leave it
                halfway()
                halfway = None


def write_analyst_copy(
    source: str | Path, dest: Path, halfway: Callable[[], None] | None = None
) -> str:
    """Write ``source`` (a warehouse, checkpointed, not being written meanwhile) into a new file
    ``dest`` that analysts' DuckDB opens, with its views and comments, flushed to the disk before
    anyone renames it into place (a rename is durable before the data it names is). ``halfway`` is
    called once half of the bytes or all the tables are copied (a test's fault point).

    Returns: how: ``"bytes"`` (a warehouse in ``STORAGE_VERSION`` with no log beside it, copied
    byte for byte) or ``"tables"`` (``COPY FROM DATABASE`` into a new file in that version).
    """
    wal = Path(str(source) + ".wal")
    if not wal.exists() and storage_version_of(source) == READABLE_TAG:
        dest.with_name(dest.name + ".wal").unlink(missing_ok=True)  # a log left by a killed one
        byte_copy(source, dest, halfway)
        with _opened(dest) as con:
            describe(con)
        how = "bytes"
    else:
        with new_copy(dest) as con:
            con.execute(f"attach {_text(str(source))} as warehouse (read_only)")
            con.execute(f"copy from database warehouse to {ALIAS}")
            con.execute("detach warehouse")
            if halfway is not None:
                halfway()
            describe(con)
        how = "tables"
    with open(dest, "rb") as written:
        os.fsync(written.fileno())
    return how


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
    comment_all(con, ALIAS)


def comment_all(con: duckdb.DuckDBPyConnection, database: str) -> None:
    """Comment every table, view and column of ``database`` whose comment is not already the
    text Dagster shows; the warehouse keeps them, so its byte copy arrives mostly described."""
    statements = []
    for kind, schema, name, comment in con.execute(
        "select 'table', schema_name, table_name, comment from duckdb_tables() "
        "where database_name = ?1 union all select 'view', schema_name, view_name, comment "
        "from duckdb_views() where database_name = ?1 and not internal",
        [database],
    ).fetchall():
        qualified = f"{_name(database)}.{_name(schema)}.{_name(name)}"
        text = table_description(f"{schema}.{name}")
        if text != comment:
            statements.append(f"comment on {kind} {qualified} is {_text(text)}")
    for schema, name, column, comment in con.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where database_name = ? and not internal",
        [database],
    ).fetchall():
        text = column_description(f"{schema}.{name}", column)
        if text != comment:
            statements.append(
                f"comment on column {_name(database)}.{_name(schema)}.{_name(name)}."
                f"{_name(column)} is {_text(text)}"
            )
    if statements:  # one transaction: one commit for them all
        con.execute("begin transaction;\n" + ";\n".join(statements) + ";\ncommit")
