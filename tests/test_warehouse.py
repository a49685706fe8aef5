"""Atomic, idempotent range replace and the atomic publish of the analysts' copy."""

import datetime as dt
import multiprocessing

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kpi_pipeline.warehouse import Warehouse

COLUMNS = [("day", "DATE"), ("item", "VARCHAR"), ("amount", "BIGINT")]
BASE = dt.date(2026, 1, 1)


def batch(rows, business="b"):
    return pa.table({
        "business_id": [business] * len(rows), "day": [r[0] for r in rows], "item": [r[1] for r in rows],
        "amount": [r[2] for r in rows], "_account": ["acc"] * len(rows), "_record": ["{}"] * len(rows),
        "_synced_at": [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * len(rows),
    })


def load(wh, start, end, rows, batches=None):
    return wh.replace_range("t__s", COLUMNS, ("day", "item"), "day", start, end,
                            batches if batches is not None else [batch(rows, wh.business_id)])


def table(wh):
    return sorted(wh.query("select day, item, amount from raw.t__s"))


loads = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 6), st.integers(0, 3), st.integers(0, 1000)),
    min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(loads)
def test_any_sequence_of_loads_equals_the_last_load_of_each_day(sequence):
    wh = Warehouse(":memory:", "b")
    expected: dict[dt.date, list[tuple]] = {}
    for first, length, per_day, seed in sequence:
        start, end = BASE + dt.timedelta(days=first), BASE + dt.timedelta(days=first + length)
        rows = [(start + dt.timedelta(days=d), f"i{k}", seed + d * 10 + k)
                for d in range(length + 1) for k in range(per_day)]
        load(wh, start, end, rows)
        for d in range(length + 1):
            day = start + dt.timedelta(days=d)
            expected[day] = [r for r in rows if r[0] == day]
    assert table(wh) == sorted(r for rows in expected.values() for r in rows)


def test_reloading_the_same_range_changes_nothing():
    wh = Warehouse(":memory:", "b")
    rows = [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)]
    load(wh, BASE, BASE + dt.timedelta(days=1), rows)
    first = table(wh)
    for _ in range(3):
        load(wh, BASE, BASE + dt.timedelta(days=1), rows)
    assert table(wh) == first


def _broken():
    yield batch([(BASE, "new", 2)])
    raise RuntimeError("connection dropped on page 2")


def test_a_load_failing_half_way_leaves_the_previous_rows():
    wh = Warehouse(":memory:", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])

    with pytest.raises(RuntimeError):
        load(wh, BASE, BASE, [], batches=_broken())
    assert table(wh) == [(BASE, "a", 1)]


def _staged(wh):
    return wh.query("select table_name from information_schema.tables where table_name like '%incoming%'")


def test_a_failed_or_refused_load_leaves_nothing_staged_and_a_killed_one_is_never_published(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])

    with pytest.raises(RuntimeError):
        load(wh, BASE, BASE, [], batches=_broken())
    with pytest.raises(ValueError, match="repeat the key"):
        load(wh, BASE, BASE, [(BASE, "x", 1), (BASE, "x", 2)])
    assert _staged(wh) == [] and table(wh) == [(BASE, "a", 1)]
    with wh.writer() as con:
        before = con.execute("select current_setting('memory_limit')").fetchone()[0]
        load(wh, BASE, BASE, [(BASE, "a", 1)])  # on the same connection: the load's memory limit is undone
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == before
        con.execute("create table raw._incoming_t__s as select * from raw.t__s")  # what a killed load leaves
    with duckdb.connect(str(wh.publish(tmp_path / "analytics.duckdb")), read_only=True) as con:
        assert con.execute("select count(*) from information_schema.tables where table_name like '%incoming%'"
                           ).fetchone()[0] == 0


@pytest.mark.parametrize("value", ["64 apples", "1GB'; drop table raw.t__s; --", ""])
def test_a_load_memory_setting_that_is_not_a_size_is_refused_by_name(value, monkeypatch):
    wh = Warehouse(":memory:", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    monkeypatch.setenv("KPI_LOAD_MEMORY", value)
    with pytest.raises(ValueError, match="KPI_LOAD_MEMORY: .* is not a size like 64MB"):
        load(wh, BASE, BASE, [(BASE, "b", 2)])
    assert table(wh) == [(BASE, "a", 1)]
    monkeypatch.setenv("KPI_LOAD_MEMORY", "256MB")
    load(wh, BASE, BASE, [(BASE, "b", 2)])
    assert table(wh) == [(BASE, "b", 2)]


def test_duplicate_keys_and_rows_outside_the_range_are_refused_whole():
    wh = Warehouse(":memory:", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    with pytest.raises(ValueError, match="repeat the key"):
        load(wh, BASE, BASE, [(BASE, "x", 1), (BASE, "x", 2)])
    with pytest.raises(ValueError, match="outside"):
        load(wh, BASE, BASE, [(BASE + dt.timedelta(days=5), "x", 1)])
    assert table(wh) == [(BASE, "a", 1)]


def test_other_businesses_rows_are_untouched():
    wh = Warehouse(":memory:", "b")
    other = Warehouse(":memory:", "c")
    other._mem_con = wh._mem_con
    load(other, BASE, BASE, [(BASE, "theirs", 5)])
    load(wh, BASE, BASE, [(BASE, "ours", 1)])
    assert sorted(wh.query("select business_id, item from raw.t__s")) == [("b", "ours"), ("c", "theirs")]
    with pytest.raises(ValueError, match="another business"):
        wh.replace_range("t__s", COLUMNS, ("day", "item"), "day", BASE, BASE, [batch([(BASE, "x", 1)], "c")])


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
    load(wh, BASE, BASE + dt.timedelta(days=1), [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)])
    wh.publish(target)  # neither blocked nor failing while the analyst reads
    release.set()
    analyst.join(30)
    assert [seen.get(timeout=5), seen.get(timeout=5)] == [1, 1]  # the analyst saw one whole state
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 2
    assert not list(tmp_path.glob(".analytics.duckdb.*.tmp"))


def test_a_writer_waiting_too_long_gets_a_clear_message(tmp_path):
    holder = Warehouse(tmp_path / "w.duckdb", "b")
    waiter = Warehouse(tmp_path / "w.duckdb", "b", lock_timeout=0.2)
    with holder.writer():
        with pytest.raises(RuntimeError, match="another writer has held .*w.duckdb.lock"):
            with waiter.writer():
                pass


def test_storage_problems_are_said_in_words_with_what_to_do(tmp_path):
    import errno

    from kpi_pipeline.warehouse import storage_problem

    path = tmp_path / "warehouse.duckdb"
    full = storage_problem(OSError(errno.ENOSPC, "No space left on device"), path)
    assert full.startswith(f"disk full: no space left in {tmp_path}") and "free some space" in full
    assert "permission denied writing in" in storage_problem(PermissionError(errno.EACCES, "Permission denied"), path)
    assert "read-only file system" in storage_problem(OSError(errno.EROFS, "Read-only file system"), path)
    lock = storage_problem(Exception('IO Error: Could not set lock on file "x": Conflicting lock is held in '
                                     '/usr/bin/duckdb (PID 4242) by user ann.'), path)
    assert lock.startswith("warehouse.duckdb is open in another program (duckdb, PID 4242)")
    assert "analytics.duckdb" in lock
    assert storage_problem(ValueError("something else"), path) is None


def test_a_failed_commit_surfaces_its_own_error_not_the_rollbacks(tmp_path):
    import duckdb

    from kpi_pipeline.warehouse import _rollback

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _rollback(con)  # no transaction open (a failed commit ended it): says nothing, raises nothing
    con.execute("begin transaction")
    con.execute("create table t (a int)")
    _rollback(con)
    assert con.execute("select count(*) from information_schema.tables where table_name = 't'").fetchone()[0] == 0


def test_an_upsert_by_key_replaces_changed_records_keeps_the_others_and_is_atomic():
    wh = Warehouse(":memory:", "b")
    other = Warehouse(":memory:", "c")
    other._mem_con = wh._mem_con

    def upsert(who, rows, whole=False, batches=None):
        return who.upsert_by_key("t__s", COLUMNS, ("item",), batches if batches is not None
                                 else [batch(rows, who.business_id)], whole=whole)

    upsert(other, [(BASE, "a", 9)])
    upsert(wh, [(BASE, "a", 1), (BASE, "b", 2)], whole=True)
    # "a" changed months later: it replaces its earlier self, whatever its date; "b" stays
    later = BASE + dt.timedelta(days=200)
    for _ in range(2):  # the same load again changes nothing
        upsert(wh, [(later, "a", 5), (later, "c", 3)])
        assert sorted(wh.query("select business_id, item, amount from raw.t__s")) == [
            ("b", "a", 5), ("b", "b", 2), ("b", "c", 3), ("c", "a", 9)]
    with pytest.raises(RuntimeError):
        upsert(wh, [], batches=_broken())
    with pytest.raises(ValueError, match="repeat the key"):
        upsert(wh, [(BASE, "x", 1), (later, "x", 2)])
    # a whole load replaces all of the business's rows (records the platform no longer has go)
    upsert(wh, [(later, "a", 7)], whole=True)
    assert sorted(wh.query("select business_id, item, amount from raw.t__s")) == [("b", "a", 7), ("c", "a", 9)]


# ---------------------------------------------------------------- an analyst writing to the published copy

ANALYST_WRITES = ("import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
                  "con.execute('create table main.my_segments as select 42 as answer'); "
                  "print('written', flush=True); " "os._exit(0) if sys.argv[2] == 'die' else "
                  "con.close() if sys.argv[2] == 'close' else sys.stdin.read()")


def analyst_writes_and_dies(path):
    """An analyst's DuckDB opens the published copy read-write, creates a table and ends before
    any checkpoint (a killed shell, a notebook kernel restarted): its writes are only in the .wal."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", ANALYST_WRITES, str(path), "die"], check=True, timeout=120)
    assert path.with_name(path.name + ".wal").exists()


def test_an_analysts_unsaved_writes_are_kept_aside_and_the_new_copy_opens(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    analyst_writes_and_dies(target)
    load(wh, BASE, BASE + dt.timedelta(days=1), [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)])
    said = []
    wh.publish(target, say=said.append)

    assert not (tmp_path / "analytics.duckdb.wal").exists()  # no stale log beside the new copy
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 2
    [kept] = tmp_path.glob("analytics.duckdb.analyst-*[0-9Z]")
    assert (tmp_path / f"{kept.name}.wal").exists() and len(said) == 1 and str(kept) in said[0]
    with duckdb.connect(str(kept), read_only=True) as con:  # the analyst's table, where the message says
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
    subprocess.run([sys.executable, "-c", ANALYST_WRITES, str(target), "close"], check=True, timeout=120)
    assert not (tmp_path / "analytics.duckdb.wal").exists()
    load(wh, BASE, BASE + dt.timedelta(days=1), [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)])
    said = []
    wh.publish(target, say=said.append)

    [kept] = tmp_path.glob("analytics.duckdb.analyst-*[0-9Z]")
    assert len(said) == 1 and str(kept) in said[0] and ".wal" not in said[0]
    with duckdb.connect(str(kept), read_only=True) as con:
        assert con.execute("select answer from main.my_segments").fetchone()[0] == 42
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 2
        assert not con.execute("select * from information_schema.tables where table_name = 'my_segments'").fetchall()
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


def test_a_publish_failing_after_its_rename_is_not_taken_for_an_analysts_writes(tmp_path, monkeypatch):
    """Killed or failing between the rename and its record, the new copy must still count as ours."""
    import errno

    import kpi_pipeline.warehouse as warehouse
    from kpi_pipeline.warehouse import StorageError

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    load(wh, BASE, BASE + dt.timedelta(days=1), [(BASE, "a", 1), (BASE + dt.timedelta(days=1), "b", 2)])

    def io_error(folder):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(warehouse, "sync_folder", io_error)
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

    from kpi_pipeline.warehouse import StorageError

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    analyst = subprocess.Popen([sys.executable, "-c", ANALYST_WRITES, str(target), "stay"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "written"
        with pytest.raises(StorageError, match=rf"analytics.duckdb is open for writing in .*\(PID {analyst.pid}\).*"
                                               "read-only for analysts"):
            wh.publish(target)
        assert sorted(p.name for p in tmp_path.glob("analytics.duckdb*")) == ["analytics.duckdb",
                                                                             "analytics.duckdb.wal"]
        assert not list(tmp_path.glob(".analytics.duckdb.*.tmp"))
    finally:
        analyst.stdin.close()
        analyst.wait(120)
    with duckdb.connect(str(target), read_only=True) as con:  # closed normally: their table is in the file
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
    assert dst == str(target) and ("fsync", tmp) in calls[:at]  # the data is on the disk before its name
    assert ("fsync", str(tmp_path)) in calls[at + 1:]  # and the rename itself after


# ---------------------------------------------------------------- faults at the exact moment (kpi_pipeline/faults.py)

LOAD_POINTS = ("load:after_delete", "load:after_insert", "load:before_commit")


def _record(con, rows):
    """What loading.record_load does inside the load's transaction: a row in raw._loads."""
    con.execute("create table if not exists raw._loads (stream varchar, rows bigint)")
    con.execute("insert into raw._loads values ('t__s', ?)", [rows])


def _loads(wh):
    return wh.query("select stream, rows from raw._loads order by all")


def _load_recorded(wh, day_rows):
    return wh.replace_range("t__s", COLUMNS, ("day", "item"), "day", BASE, BASE + dt.timedelta(days=1),
                            [batch(day_rows, wh.business_id)], on_commit=_record)


@pytest.mark.parametrize("point", LOAD_POINTS)
def test_a_load_failing_between_its_delete_insert_and_record_leaves_the_old_rows_and_no_record(tmp_path, point):
    from kpi_pipeline.faults import armed

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    _load_recorded(wh, [(BASE, "a", 1)])

    def fail():
        raise RuntimeError(f"fault at {point}")

    with armed(point, fail), pytest.raises(RuntimeError, match="fault at"):
        _load_recorded(wh, [(BASE, "b", 2), (BASE + dt.timedelta(days=1), "c", 3)])
    assert table(wh) == [(BASE, "a", 1)] and _loads(wh) == [("t__s", 1)]
    _load_recorded(wh, [(BASE, "b", 2)])  # and the next load lands whole, with its record
    assert table(wh) == [(BASE, "b", 2)] and _loads(wh) == [("t__s", 1), ("t__s", 1)]


KILLED = """
import datetime as dt, sys
sys.path.insert(0, {root!r})
from tests.test_warehouse import BASE, Warehouse, _load_recorded
_load_recorded(Warehouse({path!r}, "b"), [(BASE, "b", 2), (BASE + dt.timedelta(days=1), "c", 3)])
"""


@pytest.mark.parametrize("point", LOAD_POINTS)
def test_a_load_killed_between_its_delete_insert_and_record_leaves_the_old_rows_and_no_record(tmp_path, point):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kpi_pipeline.faults import ENV, EXIT_CODE

    path = tmp_path / "warehouse.duckdb"
    wh = Warehouse(path, "b")
    _load_recorded(wh, [(BASE, "a", 1)])
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", KILLED.format(root=root, path=str(path))],
                          env={**os.environ, ENV: point}, capture_output=True, text=True)
    assert done.returncode == EXIT_CODE, done.stderr  # killed right there: no rollback, no clean-up ran
    assert table(wh) == [(BASE, "a", 1)] and _loads(wh) == [("t__s", 1)]


PUBLISH_KILLED = """
import sys
sys.path.insert(0, {root!r})
from kpi_pipeline.warehouse import Warehouse
Warehouse({path!r}, "b").publish({target!r})
"""


@pytest.mark.parametrize("point", ("publish:during_copy", "publish:before_rename"))
def test_a_publish_killed_during_its_copy_leaves_the_old_copy_whole(tmp_path, point):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kpi_pipeline.faults import ENV, EXIT_CODE

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    # the new state is much larger than the old, so half its copy overwrites all of the old file
    load(wh, BASE, BASE + dt.timedelta(days=400),
         [(BASE + dt.timedelta(days=d), f"i{k}", d * 100 + k) for d in range(401) for k in range(100)])
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", PUBLISH_KILLED.format(
        root=root, path=str(wh.path), target=str(target))], env={**os.environ, ENV: point},
        capture_output=True, text=True)
    assert done.returncode == EXIT_CODE, done.stderr
    with duckdb.connect(str(target), read_only=True) as con:  # the old copy, whole
        assert con.execute("select day, item, amount from raw.t__s").fetchall() == [(BASE, "a", 1)]
    wh.publish(target)  # the next publish replaces it
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select count(*) from raw.t__s").fetchone()[0] == 401 * 100


def test_a_publish_failing_half_way_through_its_copy_says_why_and_leaves_no_temp_file(tmp_path):
    import errno
    import os

    from kpi_pipeline.faults import armed
    from kpi_pipeline.warehouse import StorageError

    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])
    target = wh.publish(tmp_path / "analytics.duckdb")
    old = target.read_bytes()
    load(wh, BASE, BASE, [(BASE, "b", 2)])

    def disk_full():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with armed("publish:during_copy", disk_full), pytest.raises(StorageError, match="disk full"):
        wh.publish(target)
    assert sorted(p.name for p in tmp_path.iterdir() if "analytics" in p.name) == [".analytics.duckdb.published",
                                                                                  "analytics.duckdb"]
    assert target.read_bytes() == old  # the analysts' copy untouched
