"""DuckDB: schemas, atomic replace of a key range, whole-table rebuilds, publishing.

One writer at a time: every write holds a file lock beside the warehouse (``<file>.lock``)
besides the Dagster pool ``duckdb``, so writers outside the pool wait instead of failing on
DuckDB's own lock. Analysts read the published copy, which is replaced by rename.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import duckdb
import pyarrow as pa
from filelock import FileLock, Timeout

SCHEMAS = ("raw", "staging", "kpis", "snapshots")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ARROW_TYPES = {
    "VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"), "BOOLEAN": pa.bool_(), "DATE[]": pa.list_(pa.date32()), "DECIMAL(18,2)": pa.decimal128(18, 2),
}


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


class Warehouse:
    """The pipeline's DuckDB file.

    Args:
        path: the warehouse file (``data/warehouse.duckdb``); ``:memory:`` for tests.
        business_id: carried by every row so one file can later hold several businesses.
        lock_timeout: seconds to wait for another writer before failing with a clear message.
    """

    def __init__(self, path: str | Path, business_id: str, lock_timeout: float = 900) -> None:
        self.path = str(path)
        self.business_id = business_id
        self._memory = self.path == ":memory:"
        self._mem_con = duckdb.connect(":memory:") if self._memory else None
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(self.path + ".lock", timeout=lock_timeout) if not self._memory else None

    @contextlib.contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection under the writer lock, schemas created."""
        if self._mem_con is not None:
            self._ensure_schemas(self._mem_con)
            yield self._mem_con
            return
        assert self.lock is not None
        with self._locked():
            con = duckdb.connect(self.path)
            try:
                self._ensure_schemas(con)
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.lock is not None
        try:
            self.lock.acquire()
        except Timeout:
            raise RuntimeError(
                f"another writer has held {self.lock.lock_file} for {self.lock.timeout:.0f}s; "
                "is another `kpi sync` or a Dagster run still writing?") from None
        try:
            yield
        finally:
            self.lock.release()

    @contextlib.contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reading (under the lock: DuckDB allows one process at a time)."""
        with self.writer() as con:
            yield con

    @staticmethod
    def _ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")

    # ------------------------------------------------------------------ raw loads

    def ensure_raw_table(self, con: duckdb.DuckDBPyConnection, table: str,
                         columns: Sequence[tuple[str, str]], key: Sequence[str]) -> str:
        """Create ``raw.<table>`` if needed (and add new declared columns)."""
        name = qualified(f"raw.{table}")
        cols = ", ".join(
            f"{ident(c)} {t}{' not null' if c in key else ''}" for c, t in columns
        )
        con.execute(
            f"create table if not exists {name} (business_id varchar not null, {cols}, "
            f"_account varchar, _record json, _synced_at timestamptz not null)"
        )
        for c, t in columns:
            con.execute(f"alter table {name} add column if not exists {ident(c)} {t}")
        return name

    def replace_range(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        date_column: str,
        start: dt.date,
        end: dt.date,
        batches: Iterable[pa.Table],
    ) -> int:
        """Replace the rows of ``raw.<table>`` whose ``date_column`` is in ``start..end``.

        The batches are staged first; then one transaction deletes the range and inserts
        them, so a failure at any point leaves the previous rows intact, and running the same
        load again gives the same table.

        Returns:
            The number of rows inserted.
        """
        with self.writer() as con:
            name = self.ensure_raw_table(con, table, columns, key)
            staging = f"_incoming_{ident(table)}"
            con.execute(f"create or replace temp table {staging} as select * from {name} limit 0")
            for batch in batches:
                con.register("_batch", batch)
                con.execute(f"insert into {staging} by name select * from _batch")
                con.unregister("_batch")
            outside = con.execute(
                f"select count(*) from {staging} where {ident(date_column)} not between ? and ?"
                f" or {ident(date_column)} is null", [start, end]).fetchone()[0]
            foreign = con.execute(f"select count(*) from {staging} where business_id is distinct from ?",
                                  [self.business_id]).fetchone()[0]
            if foreign:
                con.execute(f"drop table {staging}")
                raise ValueError(f"raw.{table}: {foreign} row(s) belong to another business; nothing loaded")
            keys = ", ".join(ident(k) for k in key)
            dupes = con.execute(
                f"select count(*) - count(distinct ({keys})) from {staging}").fetchone()[0]
            if outside or dupes:
                con.execute(f"drop table {staging}")
                why = (f"{outside} row(s) fall outside {start}..{end}" if outside
                       else f"{dupes} row(s) repeat the key ({keys})")
                raise ValueError(f"raw.{table}: {why}; nothing loaded")
            try:
                con.execute("begin transaction")
                con.execute(f"delete from {name} where business_id = ? and {ident(date_column)} between ? and ?",
                            [self.business_id, start, end])
                con.execute(f"insert into {name} by name select * from {staging}")
                count = con.execute(f"select count(*) from {staging}").fetchone()[0]
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
            finally:
                con.execute(f"drop table if exists {staging}")
            return int(count)

    # ------------------------------------------------------------------ models

    def rebuild(self, table: str, select_sql: str, params: Sequence[Any] | None = None) -> int:
        """``create or replace`` a derived table from a SELECT, atomically."""
        name = qualified(table)
        with self.writer() as con:
            try:
                con.execute("begin transaction")
                con.execute(f"create or replace table {name} as {select_sql}", list(params or []))
                count = con.execute(f"select count(*) from {name}").fetchone()[0]
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
            return int(count)

    def write_frame(self, table: str, frame: Any, *, mode: str = "replace",
                    delete_where: str | None = None, params: Sequence[Any] | None = None) -> int:
        """Write an Arrow table or pandas frame: replace the table, or delete-then-append."""
        name = qualified(table)
        with self.writer() as con:
            con.register("_frame", frame)
            try:
                con.execute("begin transaction")
                exists = con.execute(
                    "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                    table.split(".", 1)).fetchone()[0]
                if mode == "replace" or not exists:
                    con.execute(f"create or replace table {name} as select * from _frame")
                else:
                    if delete_where:
                        con.execute(f"delete from {name} where {delete_where}", list(params or []))
                    con.execute(f"insert into {name} by name select * from _frame")
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise
            finally:
                con.unregister("_frame")
            return len(frame)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.reader() as con:
            return con.execute(sql, list(params or [])).fetchall()

    def query_df(self, sql: str, params: Sequence[Any] | None = None):
        with self.reader() as con:
            return con.execute(sql, list(params or [])).df()

    def table_exists(self, table: str) -> bool:
        schema, name = table.split(".", 1)
        return bool(self.query("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                               [schema, name])[0][0])

    # ------------------------------------------------------------------ publishing

    def publish(self, target: str | Path) -> Path:
        """Replace ``target`` (the analysts' copy) atomically with the current warehouse.

        The copy is written to a temp file beside it and renamed over it; an analyst holding
        the old file open keeps reading the old, complete state.
        """
        if self._memory:
            raise ValueError("an in-memory warehouse cannot be published")
        target = Path(target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with self._locked():
            con = duckdb.connect(self.path)
            try:
                con.execute("checkpoint")
            finally:
                con.close()
            shutil.copyfile(self.path, tmp)
            os.replace(tmp, target)
        return target
