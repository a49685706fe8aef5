"""Crashes as a property: a sync killed at any moment leaves the old or the new state.

A warehouse synced as of 2026-11-08 (the old state) is synced as of 2026-11-15 by real `kpi`
processes killed with SIGKILL at moments drawn from the whole run: while a raw stream
loads, while staging and KPI models rebuild, while snapshots are written, while the
analysts' copy is published. After every kill:

- the published copy is, table for table, the old one or the new one as a whole;
- every raw table of the warehouse is its old or its new content;
- the warehouse opens, and the next sync is not blocked by the dead run.

Then one normal sync makes every table identical to that of a clean run that was never
killed (the new state). Only load-time stamps (``_synced_at``, ``loaded_at``,
``computed_at``) and the log of loads (``raw._loads``) may differ.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import duckdb

from tests.sync_processes import HANG, KPI, environment, read_until, small_setup, sync

OLD, NEW = "2026-11-08", "2026-11-15"
VOLATILE = ("_synced_at", "loaded_at", "computed_at")
KINDS = (
    ("raw/",),
    ("staging/", "kpis/"),
    ("snapshots/",),
    ("published/",),
)  # loading, models, scoring, publish


def fingerprints(path: Path) -> dict[str, tuple[int, int]]:
    """Each table's row count and an order-free hash of its rows (volatile stamps left out)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, name in tables:
            if (schema, name) == ("raw", "_loads"):
                continue
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where "
                    "table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in VOLATILE
            ]
            row = ", ".join(f'"{c}"' for c in cols)
            count, digest = con.execute(
                f'select count(*), coalesce(sum(hash({row})), 0) from "{schema}"."{name}"'
            ).fetchone()
            out[f"{schema}.{name}"] = (count, int(digest))
        return out
    finally:
        con.close()


def run_to(config: Path, as_of: str) -> None:
    done = subprocess.run(
        _kpi(config, as_of),
        capture_output=True,
        text=True,
        env=environment(config.parent),
        cwd=config.parent,
        timeout=HANG,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _kpi(config: Path, as_of: str) -> list[str]:
    return [*KPI, "sync", "--config", str(config), "--as-of", as_of]


def test_a_sync_killed_anywhere_leaves_old_or_new_and_the_next_run_completes(tmp_path):
    clean, crash = tmp_path / "clean", tmp_path / "crash"
    clean.mkdir()
    run_to(small_setup(clean), OLD)
    shutil.copytree(clean, crash)  # the same old state twice: one to crash, one to run cleanly
    clean_config, crash_config = clean / "kpi.yaml", crash / "kpi.yaml"
    old_published = fingerprints(crash / "data" / "analytics.duckdb")
    old_warehouse = fingerprints(crash / "data" / "warehouse.duckdb")

    # the clean run to the new state, whose step lines are the moments to kill at
    proc = subprocess.Popen(
        _kpi(clean_config, NEW),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(clean),
        cwd=clean,
    )
    out, _ = proc.communicate(timeout=HANG)
    assert proc.returncode == 0, out
    steps = [
        line.strip()[2:].split("  (")[0] for line in out.splitlines() if line.startswith("  > ")
    ]
    new_published = fingerprints(clean / "data" / "analytics.duckdb")
    new_warehouse = fingerprints(clean / "data" / "warehouse.duckdb")
    assert new_published != old_published  # the two states differ, so "old or new" means something

    rng = random.Random(20261130)
    moments = [
        (rng.choice([s for s in steps if s.startswith(kind)]), rng.uniform(0, 0.3))
        for kind in KINDS
    ]
    assert len(moments) == 4 and moments[-1][0].startswith("published/")
    for step, delay in moments:
        proc = subprocess.Popen(
            _kpi(crash_config, NEW),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment(crash),
            cwd=crash,
        )
        read_until(proc, f"> {step}")
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            pass
        proc.kill()
        proc.communicate(timeout=HANG)
        published = fingerprints(crash / "data" / "analytics.duckdb")
        assert published in (old_published, new_published), (
            f"killed at {step}: the published copy is mixed"
        )
        warehouse = fingerprints(crash / "data" / "warehouse.duckdb")
        for table, value in warehouse.items():
            if table.startswith("raw."):
                assert value in (old_warehouse.get(table), new_warehouse.get(table)), (
                    f"killed at {step}: {table}"
                )

    code, out = sync(crash_config)  # as-of NEW, the normal way
    assert code == 0, out
    assert fingerprints(crash / "data" / "warehouse.duckdb") == new_warehouse
    assert fingerprints(crash / "data" / "analytics.duckdb") == new_published
    assert not [p for p in (crash / "data").iterdir() if p.name.endswith(".tmp")]
