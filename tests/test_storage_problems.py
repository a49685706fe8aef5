"""A sync meeting its storage: a full disk (seen before the run, or filling during it), a file size
limit, a program holding the pipeline's own warehouse, an analyst writing to the published copy.

Syncs run as real `kpi` processes on a small demo setup (Stripe and the CSV, six weeks), limited
with RLIMIT_FSIZE or run on a tmpfs the test fills (mounting one needs root: else skipped); every
wait is on an event (a line of output, a process exit) with bounds that only catch a hang.
"""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.warehouse.storage import StorageError, check_free_space
from tests.conftest import AS_OF
from tests.sync_processes import (
    HANG,
    KPI,
    default_signals,
    environment,
    read_until,
    start_sync,
    sync,
)


def _limit_file_size(limit: int):
    def apply() -> None:
        default_signals()
        signal.signal(
            signal.SIGXFSZ, signal.SIG_IGN
        )  # the write fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_publish_that_cannot_write_says_why_once_leaves_no_debris_and_recovers(
    small_business, capsys
):
    config = small_business
    data = config.parent / "data"
    published = (data / "analytics.duckdb").read_bytes()
    size = (data / "warehouse.duckdb").stat().st_size
    proc = start_sync(config, "--start", "2026-10-01", preexec=_limit_file_size(size + 50_000))
    out, _ = proc.communicate(timeout=HANG)
    assert proc.returncode == 1, out
    assert out.count("a file size limit stops writing in") == 2, (
        out
    )  # the step line and the summary's cause
    assert "cannot rollback" not in out and "Traceback" not in out
    assert not [p for p in data.iterdir() if p.name.endswith(".tmp")]
    assert (data / "analytics.duckdb").read_bytes() == published  # the analysts' copy is untouched
    assert (
        main(
            ["sync", "--config", str(config), "--as-of", AS_OF.isoformat(), "--start", "2026-10-01"]
        )
        == 0
    )


def test_a_full_disk_is_refused_before_the_run_in_words(small_business, capsys, monkeypatch):
    config = small_business
    warehouse = config.parent / "data" / "warehouse.duckdb"
    before = warehouse.read_bytes()
    capsys.readouterr()
    import shutil

    usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(p)._replace(free=10_000_000))
    assert main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat()]) == 1
    out = capsys.readouterr()
    assert "error: disk full: 10 MB free in" in out.err and "free some space" in out.err
    assert "  > raw/" not in out.out and warehouse.read_bytes() == before


def test_free_space_check_counts_a_whole_copy_and_a_margin(tmp_path):
    class Usage:
        def __init__(self, free):
            self.free = free

    check_free_space(tmp_path, 100_000_000, usage=lambda _p: Usage(200_000_000))
    with pytest.raises(StorageError, match=r"disk full: 150 MB free .* needs about 167 MB"):
        check_free_space(tmp_path, 100_000_000, usage=lambda _p: Usage(150_000_000))


def test_a_reader_on_the_pipelines_own_warehouse_is_named_once(small_business, capsys, monkeypatch):
    config = small_business
    warehouse = load_config(config).warehouse_path
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        monkeypatch.setenv("KPI_LOCK_WAIT", "1")
        capsys.readouterr()
        assert main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat()]) == 1
        out = capsys.readouterr()
        assert f"PID {reader.pid})" in out.err and "analytics.duckdb" in out.err
        assert (out.out + out.err).count(
            "is open in another program"
        ) == 2  # "waiting up to 1s" and the error
        assert "  > raw/" not in out.out
    finally:
        reader.stdin.close()
        reader.wait(HANG)
    monkeypatch.delenv("KPI_LOCK_WAIT")
    assert main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat()]) == 0


def analyst_writes_and_dies(published: Path) -> None:
    """An analyst's DuckDB writes a table into the published copy and dies before any checkpoint:
    the table is only in analytics.duckdb.wal beside it."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute('create table main.my_segments as select 42 as answer'); os._exit(0)",
            str(published),
        ],
        check=True,
        timeout=HANG,
    )
    assert published.with_name(published.name + ".wal").exists()


def test_an_analysts_writes_to_the_published_copy_are_kept_and_the_next_sync_and_report_work(
    small_business, capsys
):
    config = small_business
    data = config.parent / "data"
    analyst_writes_and_dies(data / "analytics.duckdb")
    code, out = sync(config, "--start", "2026-11-01")
    assert code == 0 and "Traceback" not in out, out
    [kept] = [p for p in data.glob("analytics.duckdb.analyst-*") if not p.name.endswith(".wal")]
    assert f"kept their file in {kept} (with {kept.name}.wal)" in out, (
        out
    )  # said where, in the sync's output
    assert not (data / "analytics.duckdb.wal").exists()
    capsys.readouterr()
    assert main(["report", "--config", str(config)]) == 0
    with duckdb.connect(
        str(kept), read_only=True
    ) as con:  # the analyst's table, where the sync said
        assert con.execute("select answer from main.my_segments").fetchone()[0] == 42


def test_doctor_names_a_stale_log_or_an_unreadable_published_copy_and_repair_publishes_again(
    small_business, capsys
):
    config = small_business
    published = config.parent / "data" / "analytics.duckdb"
    analyst_writes_and_dies(published)
    capsys.readouterr()
    assert main(["doctor", "--config", str(config)]) == 1
    assert "analytics.duckdb.wal lies beside the published copy" in capsys.readouterr().out
    assert main(["doctor", "--config", str(config), "--repair"]) == 0
    out = capsys.readouterr().out
    assert (
        "kept: an analyst had written to analytics.duckdb" in out and "repaired: published" in out
    ), out
    assert not published.with_name("analytics.duckdb.wal").exists()

    published.write_bytes(b"")  # what a power cut after an unflushed rename leaves
    assert main(["report", "--config", str(config)]) == 1
    assert "`kpi doctor --repair` publishes it again" in capsys.readouterr().err
    assert main(["doctor", "--config", str(config)]) == 1
    assert "analytics.duckdb does not open" in capsys.readouterr().out
    assert main(["doctor", "--config", str(config), "--repair"]) == 0
    assert main(["report", "--config", str(config)]) == 0


@pytest.fixture
def small_disk(tmp_path, synced_template):
    """The synced small small_business on a disk of its own (a tmpfs; mounting one needs root or a
    user namespace), so that the test can fill it: the warehouse and Dagster's storage share it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        shutil.copytree(synced_template, disk / "business")
        yield disk, disk / "business" / "kpi.yaml"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> None:
    """Write a file until the disk is full, to the last block."""
    with open(disk / "filler", "wb", buffering=0) as out:
        for size in (1 << 20, 4096):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError:
                pass


def test_a_disk_that_fills_during_the_loads_ends_the_sync_in_one_line_and_fails_the_run(
    small_disk, monkeypatch
):
    from filelock import FileLock

    disk, config = small_disk
    data, home = config.parent / "data", config.parent / ".dagster"
    with FileLock(
        str(data / "warehouse.duckdb.lock")
    ):  # the loads wait for it: the disk fills meanwhile
        proc = start_sync(config, "--start", "2026-10-01")
        read_until(proc, "  > ")  # a step started; every write of the warehouse waits for the lock
        fill(disk)
    out, _ = proc.communicate(timeout=HANG)
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "OperationalError" not in out, out
    [line] = [x for x in out.splitlines() if x.startswith("error:")]
    assert line == (
        f"error: disk full: no space left on the disk mounted at {disk} (it holds {data}, {home}); "
        "free some space there, then run `kpi sync` again"
    ), out
    assert out.rstrip().endswith(line), out  # nothing after it
    (disk / "filler").unlink()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:  # marked failed on the full disk, not left STARTED
        assert [r.status for r in instance.get_runs()][0] == dg.DagsterRunStatus.FAILURE
    assert (
        subprocess.run(
            [*KPI, "sync", "--config", str(config), "--as-of", AS_OF.isoformat()],
            env=environment(config.parent),
            cwd=config.parent,
            timeout=HANG,
        ).returncode
        == 0
    )
