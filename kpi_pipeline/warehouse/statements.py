"""The small parts of the warehouse's SQL: checked identifiers, schema-qualified names, counts and
a rollback that hides no error."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any

import duckdb

SCHEMAS = ("raw", "staging", "kpis", "snapshots")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def count_of(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> int:
    """The number a ``select count(*) ...`` gives (DuckDB types every ``fetchone()`` as maybe
    None)."""
    row = con.execute(sql, list(params or [])).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {sql!r}")
    return int(row[0])


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open; a failed commit has already ended it, and its
    "no transaction is active" must not hide the real error."""
    with contextlib.suppress(duckdb.Error):
        con.execute("rollback")


def ident(name: str) -> str:
    """Check an identifier built from our own declarations; refuse anything else."""
    if not _IDENT.match(name):
        raise ValueError(f"refusing identifier {name!r}")
    return name


def qualified(table: str) -> str:
    schema, _, name = table.partition(".")
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema in {table!r}; known: {', '.join(SCHEMAS)}")
    return f"{schema}.{ident(name)}"
