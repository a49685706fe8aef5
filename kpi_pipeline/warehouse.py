"""DuckDB: schemas, atomic replace of a key range, whole-table rebuilds, publishing.

One writer at a time: every write holds a file lock beside the warehouse (``<file>.lock``)
besides the Dagster pool ``duckdb``, so writers outside the pool wait instead of failing on
DuckDB's own lock. Analysts read the published copy, which is replaced by rename.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import getpass
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import duckdb
import pyarrow as pa
from filelock import FileLock, Timeout

from kpi_pipeline.faults import fault_point
from kpi_pipeline.published import (PublishedInUse, copy_durably, keep_analyst_writes, record_published,
                                    sync_folder, wal_of)

SCHEMAS = ("raw", "staging", "kpis", "snapshots")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ARROW_TYPES = {
    "VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"), "BOOLEAN": pa.bool_(), "DATE[]": pa.list_(pa.date32()), "DECIMAL(18,2)": pa.decimal128(18, 2),
}


LOAD_MEMORY = "64MB"  # DuckDB's memory while a load stages its pages (env KPI_LOAD_MEMORY)
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$", re.IGNORECASE)


def load_memory() -> str:
    """KPI_LOAD_MEMORY (default 64MB), refused unless it is a size DuckDB reads, like 256MB."""
    value = os.environ.get("KPI_LOAD_MEMORY", LOAD_MEMORY).strip()
    if not _SIZE.match(value):
        raise ValueError(f"KPI_LOAD_MEMORY: {value!r} is not a size like 64MB or 1GB; nothing was loaded")
    return value
PUBLISHED_FILE = "analytics.duckdb"  # the analysts' copy, beside the warehouse
# a publish needs room for a whole copy of the warehouse, plus this much for DuckDB's own writes
FREE_SPACE_MARGIN = 64 * 1024 * 1024
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class StorageError(RuntimeError):
    """The warehouse's folder cannot be written: disk full, permission denied, a lock held.

    The message says it in words, with what to do, once for the whole run."""


def storage_problem(err: BaseException, path: str | Path) -> str | None:
    """A root cause in words for an OS or DuckDB error about the warehouse's files, else None."""
    text = str(err)
    code = getattr(err, "errno", None)
    folder = Path(path).parent
    if code == errno.ENOSPC or "No space left on device" in text:
        return (f"disk full: no space left in {folder}; free some space (the sync needs about twice the "
                f"warehouse's size), then run `kpi sync` again")
    if code == errno.EFBIG or "File too large" in text:
        return f"a file size limit stops writing in {folder} (ulimit -f); raise it, then run `kpi sync` again"
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return (f"permission denied writing in {folder}; make the folder and its files writable by "
                f"the user running kpi ({_user()})")
    if code == errno.EROFS or "Read-only file system" in text:
        return f"{folder} is on a read-only file system; point `warehouse:` in kpi.yaml at a writable folder"
    holder = _LOCK_HOLDER.search(text)
    if holder:
        return lock_message(path, holder["program"], holder["pid"])
    return None


def lock_message(path: str | Path, program: str, pid: str) -> str:
    name = Path(path).name
    return (f"{name} is open in another program ({Path(program).name}, PID {pid}), so the sync cannot write it; "
            f"close that program. Analysts should open the published copy, {PUBLISHED_FILE}, which a sync never "
            "locks")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is no reason to fail
        return f"uid {os.getuid()}"


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


class Warehouse:
    """The pipeline's DuckDB file.

    Args:
        path: the warehouse file (``data/warehouse.duckdb``); ``:memory:`` for tests.
        business_id: carried by every row so one file can later hold several businesses.
        lock_timeout: seconds to wait for another writer before failing with a clear message.
    """

    def __init__(self, path: str | Path, business_id: str, lock_timeout: float = 900,
                 open_wait: float | None = None) -> None:
        self.path = str(path)
        # how long to wait for another program (an analyst's DuckDB shell) to let go of the file
        self.open_wait = float(os.environ.get("KPI_LOCK_WAIT", 30)) if open_wait is None else open_wait
        self.business_id = business_id
        self._memory = self.path == ":memory:"
        self._mem_con = duckdb.connect(":memory:") if self._memory else None
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(self.path + ".lock", timeout=lock_timeout) if not self._memory else None
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
        """Open the file read-write, waiting up to ``open_wait`` seconds for another program that
        holds it; then :class:`StorageError` naming that program."""
        deadline = time.monotonic() + self.open_wait
        while True:
            try:
                return duckdb.connect(self.path)
            except duckdb.IOException as err:
                problem = storage_problem(err, self.path)
                if problem is None:
                    raise
                if not _LOCK_HOLDER.search(str(err)) or time.monotonic() >= deadline:
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

    def _swap(self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str],
              batches: Iterable[pa.Table], on_commit: Callable[[duckdb.DuckDBPyConnection, int], None] | None,
              date_range: tuple[str, dt.date, dt.date] | None, whole: bool = False) -> int:
        """Stage the batches, check them, then delete what they replace and insert them in one
        transaction: the rows of a date range (``date_range``), of their keys, or all (``whole``)."""
        with self.writer() as con:
            name = self.ensure_raw_table(con, table, columns, key)
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
                    outside = con.execute(
                        f"select count(*) from {staging} where {ident(date_column)} not between ? and ?"
                        f" or {ident(date_column)} is null", [start, end]).fetchone()[0]
                foreign = con.execute(f"select count(*) from {staging} where business_id is distinct from ?",
                                      [self.business_id]).fetchone()[0]
                if foreign:
                    raise ValueError(f"raw.{table}: {foreign} row(s) belong to another business; nothing loaded")
                keys = ", ".join(ident(k) for k in key)
                dupes = con.execute(f"select count(*) - count(distinct ({keys})) from {staging}").fetchone()[0]
                if outside or dupes:
                    why = (f"{outside} row(s) fall outside {start}..{end}" if outside
                           else f"{dupes} row(s) repeat the key ({keys})")
                    raise ValueError(f"raw.{table}: {why}; nothing loaded")
                try:
                    con.execute("begin transaction")
                    if date_range is not None:
                        con.execute(f"delete from {name} where business_id = ? and {ident(date_column)} "
                                    "between ? and ?", [self.business_id, start, end])
                    elif whole:
                        con.execute(f"delete from {name} where business_id = ?", [self.business_id])
                    else:  # the staged rows are all the business's (checked above)
                        same = " and ".join(f"{name}.{ident(k)} = s.{ident(k)}" for k in key)
                        con.execute(f"delete from {name} using {staging} as s where {name}.business_id = ? "
                                    f"and {same}", [self.business_id])
                    fault_point("load:after_delete")
                    con.execute(f"insert into {name} by name select * from {staging}")
                    count = con.execute(f"select count(*) from {staging}").fetchone()[0]
                    fault_point("load:after_insert")
                    if on_commit is not None:
                        on_commit(con, int(count))
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
                _rollback(con)
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
        return bool(self.query("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                               [schema, name])[0][0])

    # ------------------------------------------------------------------ publishing

    def publish(self, target: str | Path, say: Callable[[str], None] | None = None) -> Path:
        """Replace ``target`` (the analysts' copy) atomically and durably with the current warehouse.

        The copy is written to a temp file beside it, flushed to the disk and renamed over it, and
        the rename flushed; an analyst holding the old file open keeps reading the old, complete
        state. An analyst's unsaved writes left beside it (``<target>.wal``) are moved aside with
        the file they belong to, and ``say`` tells where.
        """
        if self._memory:
            raise ValueError("an in-memory warehouse cannot be published")
        target = Path(target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with self._locked():
            con = self.connect()
            try:
                for (leftover,) in con.execute(  # rows a killed load had staged are nobody's data
                        "select table_name from information_schema.tables where table_schema = 'raw' "
                        "and table_name like '\\_incoming\\_%' escape '\\'").fetchall():
                    con.execute(f"drop table raw.{ident(leftover)}")
                con.execute("checkpoint")
            except duckdb.Error as err:
                raise StorageError(storage_problem(err, self.path) or f"checkpoint before publishing failed: "
                                                                       f"{err}") from None
            finally:
                with contextlib.suppress(duckdb.Error):
                    con.close()
            check_free_space(target.parent, os.path.getsize(self.path))
            try:
                copy_durably(self.path, tmp, halfway=lambda: fault_point("publish:during_copy"))
                fault_point("publish:before_rename")
                kept = keep_analyst_writes(target)
                record_published(target, coming=tmp)
                os.replace(tmp, target)
                sync_folder(target.parent)
                record_published(target)
            except PublishedInUse as err:
                tmp.unlink(missing_ok=True)
                raise StorageError(str(err)) from None
            except OSError as err:
                tmp.unlink(missing_ok=True)  # never leave a partial copy filling the disk
                raise StorageError(storage_problem(err, target) or f"publishing {target.name} failed: "
                                   f"{err.strerror or err}") from None
        if kept is not None and say is not None:
            log = f" (with {kept.name}.wal)" if wal_of(kept).exists() else ""
            say(f"an analyst had written to {target.name} (it is read-only for analysts): kept their file in "
                f"{kept}{log}; it opens with their tables; then published a new {target.name}; see the README, "
                f"\"Your own tables\"")
        return target


def check_free_space(folder: Path, size: int, usage: Callable[[Path], Any] | None = None) -> None:
    """Refuse to start a copy of ``size`` bytes that would fill the disk (:class:`StorageError`)."""
    free = (usage or shutil.disk_usage)(folder).free
    if free < size + FREE_SPACE_MARGIN:
        raise StorageError(f"disk full: {free / 1e6:.0f} MB free in {folder}, but publishing needs about "
                           f"{(size + FREE_SPACE_MARGIN) / 1e6:.0f} MB (a full copy of the warehouse); free some "
                           "space, then run `kpi sync` again")
