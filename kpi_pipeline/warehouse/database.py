"""DuckDB: schemas, atomic replace of a key range, whole-table rebuilds, publishing.

One writer at a time: every write holds a file lock beside the warehouse (``<file>.lock``)
besides the Dagster pool ``duckdb``, so writers outside the pool wait instead of failing on
DuckDB's own lock. Analysts read the published copy, which is replaced by rename.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from filelock import FileLock, Timeout

from kpi_pipeline.warehouse.analyst_file import comment_all, create_readable
from kpi_pipeline.warehouse.published import replace_published
from kpi_pipeline.warehouse.raw_loads import swap_in
from kpi_pipeline.warehouse.statements import SCHEMAS, _rollback, count_of, ident, qualified
from kpi_pipeline.warehouse.storage import LOCK_HOLDER, StorageError, storage_problem

ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "BOOLEAN": pa.bool_(),
    "DATE[]": pa.list_(pa.date32()),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
}


class Warehouse:
    """The pipeline's DuckDB file.

    Args:
        path: the warehouse file (``data/warehouse.duckdb``); ``:memory:`` for tests.
        business_id: carried by every row so one file can later hold several businesses.
        lock_timeout: seconds to wait for another writer before failing with a clear message.
    """

    def __init__(
        self,
        path: str | Path,
        business_id: str,
        lock_timeout: float = 900,
        open_wait: float | None = None,
    ) -> None:
        self.path = str(path)
        # how long to wait for another program (an analyst's DuckDB shell) to let go of the file
        self.open_wait = (
            float(os.environ.get("KPI_LOCK_WAIT", 30)) if open_wait is None else open_wait
        )
        self.business_id = business_id
        self._memory = self.path == ":memory:"
        self._mem_con = duckdb.connect(":memory:") if self._memory else None
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = (
            FileLock(self.path + ".lock", timeout=lock_timeout) if not self._memory else None
        )
        # the connection of the writer now open: a nested writer() or reader() reuses it, so a step
        # that writes, checks and describes a table opens the file once (an open costs 20-60 ms)
        self._open: duckdb.DuckDBPyConnection | None = None

    @contextlib.contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection under the writer lock, schemas created; nested, the same one."""
        if self._mem_con is not None:
            self._ensure_schemas(self._mem_con)
            yield self._mem_con
            return
        if self._open is not None:  # within an open writer of this object: the same connection
            yield self._open
            return
        assert self.lock is not None
        with self._locked():
            con = self.connect()
            try:
                self._ensure_schemas(con)
                self._open = con
                yield con
            except duckdb.Error as err:
                problem = storage_problem(err, self.path)
                if problem is None:
                    raise
                raise StorageError(problem) from None
            finally:
                self._open = None
                with contextlib.suppress(duckdb.Error):
                    con.close()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file read-write (created in DuckDB 1.4's storage version when new: its published
        copy is then a byte copy), waiting up to ``open_wait`` seconds for another program that
        holds it; then :class:`StorageError` naming that program."""
        deadline = time.monotonic() + self.open_wait
        while True:
            try:
                create_readable(self.path)  # a new warehouse in the analysts' storage version
                return duckdb.connect(self.path)
            except duckdb.IOException as err:
                problem = storage_problem(err, self.path)
                if problem is None:
                    raise
                if not LOCK_HOLDER.search(str(err)) or time.monotonic() >= deadline:
                    raise StorageError(problem) from None
                time.sleep(0.5)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.lock is not None
        try:
            self.lock.acquire()
        except Timeout:
            raise RuntimeError(
                f"another writer has held {self.lock.lock_file} for {self.lock.timeout:.0f}s; "
                "is another `kpi sync` or a Dagster run still writing?"
            ) from None
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

    def ensure_raw_table(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
    ) -> str:
        """Create ``raw.<table>`` if needed (and add new declared columns)."""
        name = qualified(f"raw.{table}")
        cols = ", ".join(f"{ident(c)} {t}{' not null' if c in key else ''}" for c, t in columns)
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
        on_commit: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None,
    ) -> int:
        """Replace the rows of ``raw.<table>`` whose ``date_column`` is in ``start..end``.

        The batches are staged first; then one transaction deletes the range and inserts
        them, so a failure at any point leaves the previous rows intact, and running the same
        load again gives the same table. ``on_commit(con, rows)`` writes within that transaction
        (the record of the load), so the rows and their record land together or not at all.

        Returns:
            The number of rows inserted.
        """
        return self._swap(table, columns, key, batches, on_commit, (date_column, start, end))

    def upsert_by_key(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        batches: Iterable[pa.Table],
        on_commit: Callable[[duckdb.DuckDBPyConnection, int], None] | None = None,
        *,
        whole: bool = False,
    ) -> int:
        """Replace the rows of ``raw.<table>`` whose key is among the batches' (records fetched by
        last modification: an old record that changed lands over its earlier self); ``whole``
        replaces every row of the business instead (a load of the whole history, which also drops
        records the platform no longer has). Staged first, then one transaction, like
        :meth:`replace_range`: a failure leaves the previous rows, and loading the same batches
        again gives the same table.

        Returns:
            The number of rows inserted.
        """
        return self._swap(table, columns, key, batches, on_commit, None, whole=whole)

    def _swap(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        batches: Iterable[pa.Table],
        on_commit: Callable[[duckdb.DuckDBPyConnection, int], None] | None,
        date_range: tuple[str, dt.date, dt.date] | None,
        whole: bool = False,
    ) -> int:
        """Under a writer: ``raw.<table>`` made (or widened), then the batches swapped in
        (:func:`kpi_pipeline.warehouse.raw_loads.swap_in`)."""
        with self.writer() as con:
            name = self.ensure_raw_table(con, table, columns, key)
            return swap_in(
                con, self.business_id, table, name, key, batches, on_commit, date_range, whole
            )

    # ------------------------------------------------------------------ models

    def rebuild(self, table: str, select_sql: str, params: Sequence[Any] | None = None) -> int:
        """``create or replace`` a derived table from a SELECT, atomically."""
        name = qualified(table)
        with self.writer() as con:
            try:
                con.execute("begin transaction")
                con.execute(f"create or replace table {name} as {select_sql}", list(params or []))
                count = count_of(con, f"select count(*) from {name}")
                con.execute("commit")
            except Exception:
                _rollback(con)
                raise
            return count

    def write_frame(
        self,
        table: str,
        frame: Any,
        *,
        mode: str = "replace",
        delete_where: str | None = None,
        params: Sequence[Any] | None = None,
    ) -> int:
        """Write an Arrow table or pandas frame: replace the table, or delete-then-append."""
        name = qualified(table)
        with self.writer() as con:
            con.register("_frame", frame)
            try:
                con.execute("begin transaction")
                exists = count_of(
                    con,
                    "select count(*) from information_schema.tables where "
                    "table_schema = ? and table_name = ?",
                    table.split(".", 1),
                )
                if mode == "replace" or not exists:
                    con.execute(f"create or replace table {name} as select * from _frame")
                else:
                    if delete_where:
                        con.execute(f"delete from {name} where {delete_where}", list(params or []))
                    con.execute(f"insert into {name} by name select * from _frame")
                con.execute("commit")
            except Exception:
                _rollback(con)
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
        return bool(
            self.query(
                "select count(*) from information_schema.tables where "
                "table_schema = ? and table_name = ?",
                [schema, name],
            )[0][0]
        )

    # ------------------------------------------------------------------ publishing

    def publish(self, target: str | Path, say: Callable[[str], None] | None = None) -> Path:
        """Replace ``target`` (the analysts' copy) atomically and durably with the current warehouse
        (:func:`kpi_pipeline.warehouse.published.replace_published`), under the writer lock: rows a
        killed load had staged are dropped and the file checkpointed first,
        so the copy is whole in one file.
        """
        if self._memory:
            raise ValueError("an in-memory warehouse cannot be published")
        with self._locked():
            con = self.connect()
            try:
                for (leftover,) in con.execute(  # rows a killed load had staged are nobody's data
                    "select table_name from information_schema.tables where table_schema = 'raw' "
                    "and table_name like '\\_incoming\\_%' escape '\\'"
                ).fetchall():
                    con.execute(f"drop table raw.{ident(leftover)}")
                # the comments the analysts read, kept here: a byte copy arrives with them
                comment_all(con, con.execute("select current_database()").fetchall()[0][0])
                con.execute("checkpoint")
            except duckdb.Error as err:
                raise StorageError(
                    storage_problem(err, self.path) or f"checkpoint before publishing failed: {err}"
                ) from None
            finally:
                with contextlib.suppress(duckdb.Error):
                    con.close()
            return replace_published(self.path, Path(target), say)
