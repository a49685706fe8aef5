"""A fast publish: a new warehouse is created in DuckDB 1.4's storage version and published as a
byte copy plus the views; a warehouse in DuckDB 2.0's version (an earlier release's) is still
copied table by table into a file DuckDB 1.4 opens. Truth: DuckDB's own tags of each file and
DuckDB 1.4 opening the copy, in a subprocess that imports it alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.test_analyst_file import DUCKDB_14, OPEN_WITH_14, copies, in_2_0_storage, plain

__all__ = ["copies"]  # the module's synced business, shared with test_analyst_file


def _tags(path: Path) -> dict:
    with duckdb.connect(":memory:") as con:
        con.execute(f"attach '{path}' as f (read_only)")
        return con.execute(
            "select tags from duckdb_databases() where database_name = 'f'"
        ).fetchone()[0]


def _byte_copies(monkeypatch) -> list[tuple[str, str]]:
    """The (source, dest) of every byte copy a publish makes from now on."""
    from kpi_pipeline.warehouse import analyst_file

    calls: list[tuple[str, str]] = []
    real = analyst_file.byte_copy

    def spy(source, dest, halfway=None):
        calls.append((str(source), str(dest)))
        real(source, dest, halfway)

    monkeypatch.setattr(analyst_file, "byte_copy", spy)
    return calls


def _opens_in_14(path: Path) -> int:
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            OPEN_WITH_14,
            str(DUCKDB_14),
            str(path),
            "select count(*) from snapshots.kpi_snapshots",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[0].strip("[(,)]"))


def test_a_new_warehouse_is_in_1_4_storage_and_is_published_byte_for_byte(
    copies, tmp_path, monkeypatch
):
    from kpi_pipeline.warehouse.database import Warehouse

    with Warehouse(tmp_path / "new.duckdb", "b").writer() as con:
        con.execute("create table raw.t as select 1 as x")
    assert _tags(tmp_path / "new.duckdb") == {"storage_version": "v1.4.0+"}
    folder, _ = copies
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(folder / "data" / "warehouse.duckdb", warehouse)
    # still in 1.4's version after a sync wrote, checkpointed and reopened it
    assert _tags(warehouse) == {"storage_version": "v1.4.0+"}
    copied = _byte_copies(monkeypatch)
    target = Warehouse(warehouse, "crash_test").publish(tmp_path / "analytics.duckdb")
    assert [(s, Path(d).parent) for s, d in copied] == [(str(warehouse), tmp_path)]
    rows = plain(warehouse, "select count(*) from snapshots.kpi_snapshots")[0][0]
    assert _opens_in_14(target) == rows > 0
    assert plain(target, "select count(*) from duckdb_views() where view_name = 'scorecard'")


def test_a_warehouse_in_2_0_storage_still_publishes_a_copy_1_4_opens(copies, tmp_path, monkeypatch):
    from kpi_pipeline.warehouse.database import Warehouse

    folder, _ = copies
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(folder / "data" / "warehouse.duckdb", warehouse)
    in_2_0_storage(warehouse)
    copied = _byte_copies(monkeypatch)
    target = Warehouse(warehouse, "crash_test").publish(tmp_path / "analytics.duckdb")
    assert copied == []  # written table by table
    assert _tags(warehouse) == {"storage_version": "v2.0.0+"}  # left as it was
    assert _tags(target) == {"storage_version": "v1.4.0+"}
    rows = plain(warehouse, "select count(*) from snapshots.kpi_snapshots")[0][0]
    assert _opens_in_14(target) == rows > 0
    [(columns, comments)] = plain(
        target,
        "select count(*), count(comment) from duckdb_columns() "
        "where table_name = 'kpi_snapshots' and schema_name = 'snapshots'",
    )
    assert columns == comments > 20
