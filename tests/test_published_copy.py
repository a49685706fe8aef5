"""The analysts' copy (analytics.duckdb): published atomically and durably, whole after a kill,
and an analyst's own writes to it kept aside, never lost and never breaking the next publish."""

import datetime as dt
import multiprocessing

import duckdb
import pytest

from kpi_pipeline.warehouse.database import Warehouse
from tests.small_table import BASE, load


def _hold_open(path, started, release, seen):
    con = duckdb.connect(str(path), read_only=True)
    seen.put(con.execute("select count(*) from raw.t__s").fetchone()[0])
    started.set()
    release.wait(20)
    seen.put(con.execute("select count(*) from raw.t__s").fetchone()[0])
    con.close()


def test_publish_replaces_atomically_while_an_analyst_holds_the_old_copy(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    ctx = multiprocessing.get_context("spawn")
    started, release, seen = ctx.Event(), ctx.Event(), ctx.Queue()
    analyst = ctx.Process(target=_hold_open, args=(target, started, release, seen))
    analyst.start()
    assert started.wait(30)
    load(
        wh,
        BASE,
        BASE + dt.timedelta(days=1),
        [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)],
    )
    wh.publish(target)  # neither blocked nor failing while the analyst reads
    release.set()
    analyst.join(30)
    assert [seen.get(timeout=5), seen.get(timeout=5)] == [1, 1]  # the analyst saw one whole state
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 2
    assert not list(tmp_path.glob(".analytics.duckdb.*.tmp"))


# --------------------------------------------------------- an analyst writing to the published copy

ANALYST_WRITES = (
    "import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
    "con.execute('create table main.my_segments as select 42 as answer'); "
    "print('written', flush=True); "
    "os._exit(0) if sys.argv[2] == 'die' else "
    "con.close() if sys.argv[2] == 'close' else sys.stdin.read()"
)


def analyst_writes_and_dies(path):
    """An analyst's DuckDB opens the published copy read-write, creates a table and ends before
    any checkpoint (a killed shell, a notebook kernel restarted):
    its writes are only in the .wal."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-c", ANALYST_WRITES, str(path), "die"], check=True, timeout=120
    )
    assert path.with_name(path.name + ".wal").exists()


def test_an_analysts_unsaved_writes_are_kept_aside_and_the_new_copy_opens(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    analyst_writes_and_dies(target)
    load(
        wh,
        BASE,
        BASE + dt.timedelta(days=1),
        [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)],
    )
    said = []
    wh.publish(target, say=said.append)

    assert not (tmp_path / "analytics.duckdb.wal").exists()  # no stale log beside the new copy
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 2
    [kept] = tmp_path.glob("analytics.duckdb.analyst-*[0-9Z]")
    assert (tmp_path / f"{kept.name}.wal").exists() and len(said) == 1 and str(kept) in said[0]
    with duckdb.connect(
        str(kept), read_only=True
    ) as con:  # the analyst's table, where the message says
        assert con.execute("select answer from main.my_segments").fetchone()[0] == 42
    wh.publish(target, say=said.append)  # nothing more to keep: nothing said, nothing moved
    assert len(said) == 1 and len(list(tmp_path.glob("analytics.duckdb.analyst-*[0-9Z]"))) == 1


def test_an_analysts_writes_closed_cleanly_are_kept_aside_too(tmp_path):
    """A clean close checkpoints the analyst's table into the file and leaves no .wal: the file
    itself is theirs now, and the next publish must not rename a new copy over it unnoticed."""
    import subprocess
    import sys

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    subprocess.run(
        [sys.executable, "-c", ANALYST_WRITES, str(target), "close"], check=True, timeout=120
    )
    assert not (tmp_path / "analytics.duckdb.wal").exists()
    load(
        wh,
        BASE,
        BASE + dt.timedelta(days=1),
        [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)],
    )
    said = []
    wh.publish(target, say=said.append)

    [kept] = tmp_path.glob("analytics.duckdb.analyst-*[0-9Z]")
    assert len(said) == 1 and str(kept) in said[0] and ".wal" not in said[0]
    with duckdb.connect(str(kept), read_only=True) as con:
        assert con.execute("select answer from main.my_segments").fetchone()[0] == 42
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 2
        assert not con.execute(
            "select * from information_schema.tables where table_name = 'my_segments'"
        ).fetchall()
    wh.publish(target, say=said.append)  # the new copy is nobody's: nothing said, nothing moved
    assert len(said) == 1 and len(list(tmp_path.glob("analytics.duckdb.analyst-*"))) == 1


def test_reading_the_published_copy_even_read_write_keeps_nothing_aside(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    for read_only in (True, False):  # a reader, and a careless analyst who only ran selects
        with duckdb.connect(str(target), read_only=read_only) as con:
            con.execute("select count(*) from raw.t__s").fetchall()
    said = []
    wh.publish(target, say=said.append)
    assert said == [] and not list(tmp_path.glob("analytics.duckdb.analyst-*"))


def test_a_publish_failing_after_its_rename_is_not_taken_for_an_analysts_writes(
    tmp_path, monkeypatch
):
    """Killed or failing between the rename and its record,
    the new copy must still count as ours."""
    import errno

    import kpi_pipeline.warehouse.published as published
    from kpi_pipeline.warehouse.storage import StorageError

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    load(
        wh,
        BASE,
        BASE + dt.timedelta(days=1),
        [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)],
    )

    def io_error(folder):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(published, "sync_folder", io_error)
    with pytest.raises(StorageError):
        wh.publish(target)
    monkeypatch.undo()
    with duckdb.connect(str(target), read_only=True) as con:  # the rename happened
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 2
    said = []
    wh.publish(target, say=said.append)
    assert said == [] and not list(tmp_path.glob("analytics.duckdb.analyst-*"))


def test_an_analyst_still_writing_to_the_published_copy_is_named_and_nothing_moves(tmp_path):
    import subprocess
    import sys

    from kpi_pipeline.warehouse.storage import StorageError

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST_WRITES, str(target), "stay"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert analyst.stdout.readline().strip() == "written"
        with pytest.raises(
            StorageError,
            match=rf"analytics.duckdb is open for writing in .*\(PID {analyst.pid}\).*"
            "read-only for analysts",
        ):
            wh.publish(target)
        assert sorted(p.name for p in tmp_path.glob("analytics.duckdb*")) == [
            "analytics.duckdb",
            "analytics.duckdb.wal",
        ]
        assert not list(tmp_path.glob(".analytics.duckdb.*.tmp"))
    finally:
        analyst.stdin.close()
        analyst.wait(120)
    with duckdb.connect(
        str(target), read_only=True
    ) as con:  # closed normally: their table is in the file
        assert con.execute("select answer from main.my_segments").fetchone()[0] == 42


def test_publish_flushes_the_copy_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    import os

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    calls = []
    fsync, replace = os.fsync, os.replace

    def spy_fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def spy_replace(src, dst):
        calls.append(("replace", str(src), str(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    target = wh.publish(tmp_path / "analytics.duckdb")
    [(_, tmp, dst)] = [c for c in calls if c[0] == "replace" and c[2] == str(target)]
    at = calls.index(("replace", tmp, dst))
    assert (
        dst == str(target) and ("fsync", tmp) in calls[:at]
    )  # the data is on the disk before its name
    assert ("fsync", str(tmp_path)) in calls[at + 1 :]  # and the rename itself after


PUBLISH_KILLED = """
import sys
sys.path.insert(0, {root!r})
from kpi_pipeline.warehouse.database import Warehouse
Warehouse({path!r}, "b").publish({target!r})
"""


@pytest.mark.parametrize("point", ("publish:during_copy", "publish:before_rename"))
def test_a_publish_killed_during_its_copy_leaves_the_old_copy_whole(tmp_path, point):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kpi_pipeline.warehouse.faults import ENV, EXIT_CODE

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    # the new state is much larger than the old, so half its copy overwrites all of the old file
    load(
        wh,
        BASE,
        BASE + dt.timedelta(days=400),
        [
            (BASE + dt.timedelta(days=d), f"i{k}", d * 100 + k)
            for d in range(401)
            for k in range(100)
        ],
    )
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PUBLISH_KILLED.format(root=root, path=str(wh.path), target=str(target)),
        ],
        env={**os.environ, ENV: point},
        capture_output=True,
        text=True,
    )
    assert done.returncode == EXIT_CODE, done.stderr
    with duckdb.connect(str(target), read_only=True) as con:  # the old copy, whole
        assert con.execute("select day, item, amount from raw.t__s").fetchall() == [(BASE, "a", 1)]
    wh.publish(target)  # the next publish replaces it
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 401 * 100


def test_a_publish_failing_half_way_through_its_copy_says_why_and_leaves_no_temp_file(tmp_path):
    import errno
    import os

    from kpi_pipeline.warehouse.faults import armed
    from kpi_pipeline.warehouse.storage import StorageError

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    old = target.read_bytes()
    load(wh, BASE, BASE, [(BASE, "b", 2)])

    def disk_full():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with armed("publish:during_copy", disk_full), pytest.raises(StorageError, match="disk full"):
        wh.publish(target)
    assert sorted(p.name for p in tmp_path.iterdir() if "analytics" in p.name) == [
        ".analytics.duckdb.published",
        "analytics.duckdb",
    ]
    assert target.read_bytes() == old  # the analysts' copy untouched
