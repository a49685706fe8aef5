"""Atomic, idempotent range replace and upsert of raw rows, one writer at a time, storage problems
in words (the published copy: test_published_copy.py)."""

import datetime as dt

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_pipeline.warehouse.database import Warehouse
from tests.small_table import BASE, COLUMNS, batch, load, table

loads = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 6), st.integers(0, 3), st.integers(0, 1000)),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(loads)
def test_any_sequence_of_loads_equals_the_last_load_of_each_day(sequence):
    wh = Warehouse(":memory:", "b")
    expected: dict[dt.date, list[tuple]] = {}
    for first, length, per_day, seed in sequence:
        start, end = BASE + dt.timedelta(days=first), BASE + dt.timedelta(days=first + length)
        rows = [
            (start + dt.timedelta(days=d), f"i{k}", seed + d * 10 + k)
            for d in range(length + 1)
            for k in range(per_day)
        ]
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
    return wh.query(
        "select table_name from information_schema.tables where table_name like '%incoming%'"
    )


def test_a_failed_or_refused_load_leaves_nothing_staged_and_a_killed_one_is_never_published(
    tmp_path,
):
    wh = Warehouse(tmp_path / "warehouse.duckdb", "b")
    load(wh, BASE, BASE, [(BASE, "a", 1)])

    with pytest.raises(RuntimeError):
        load(wh, BASE, BASE, [], batches=_broken())
    with pytest.raises(ValueError, match="repeat the key"):
        load(wh, BASE, BASE, [(BASE, "x", 1), (BASE, "x", 2)])
    assert _staged(wh) == [] and table(wh) == [(BASE, "a", 1)]
    with wh.writer() as con:
        before = con.execute("select current_setting('memory_limit')").fetchone()[0]
        load(
            wh, BASE, BASE, [(BASE, "a", 1)]
        )  # on the same connection: the load's memory limit is undone
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == before
        con.execute(
            "create table raw._incoming_t__s as select * from raw.t__s"
        )  # what a killed load leaves
    with duckdb.connect(str(wh.publish(tmp_path / "analytics.duckdb")), read_only=True) as con:
        assert (
            con.execute(
                "select count(*) from information_schema.tables where table_name like '%incoming%'"
            ).fetchone()[0]
            == 0
        )


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
    assert sorted(wh.query("select business_id, item from raw.t__s")) == [
        ("b", "ours"),
        ("c", "theirs"),
    ]
    with pytest.raises(ValueError, match="another business"):
        wh.replace_range(
            "t__s", COLUMNS, ("day", "item"), "day", BASE, BASE, [batch([(BASE, "x", 1)], "c")]
        )


def test_a_writer_waiting_too_long_gets_a_clear_message(tmp_path):
    holder = Warehouse(tmp_path / "w.duckdb", "b")
    waiter = Warehouse(tmp_path / "w.duckdb", "b", lock_timeout=0.2)
    with holder.writer():
        with pytest.raises(RuntimeError, match="another writer has held .*w.duckdb.lock"):
            with waiter.writer():
                pass


def test_storage_problems_are_said_in_words_with_what_to_do(tmp_path):
    import errno

    from kpi_pipeline.warehouse.storage import storage_problem

    path = tmp_path / "warehouse.duckdb"
    full = storage_problem(OSError(errno.ENOSPC, "No space left on device"), path)
    assert full.startswith(f"disk full: no space left in {tmp_path}") and "free some space" in full
    assert "permission denied writing in" in storage_problem(
        PermissionError(errno.EACCES, "Permission denied"), path
    )
    assert "read-only file system" in storage_problem(
        OSError(errno.EROFS, "Read-only file system"), path
    )
    lock = storage_problem(
        Exception(
            'IO Error: Could not set lock on file "x": Conflicting lock is held in '
            "/usr/bin/duckdb (PID 4242) by user ann."
        ),
        path,
    )
    assert lock.startswith("warehouse.duckdb is open in another program (duckdb, PID 4242)")
    assert "analytics.duckdb" in lock
    assert storage_problem(ValueError("something else"), path) is None


def test_a_failed_commit_surfaces_its_own_error_not_the_rollbacks(tmp_path):
    import duckdb

    from kpi_pipeline.warehouse.database import _rollback

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _rollback(con)  # no transaction open (a failed commit ended it): says nothing, raises nothing
    con.execute("begin transaction")
    con.execute("create table t (a int)")
    _rollback(con)
    assert (
        con.execute(
            "select count(*) from information_schema.tables where table_name = 't'"
        ).fetchone()[0]
        == 0
    )


def test_an_upsert_by_key_replaces_changed_records_keeps_the_others_and_is_atomic():
    wh = Warehouse(":memory:", "b")
    other = Warehouse(":memory:", "c")
    other._mem_con = wh._mem_con

    def upsert(who, rows, whole=False, batches=None):
        return who.upsert_by_key(
            "t__s",
            COLUMNS,
            ("item",),
            batches if batches is not None else [batch(rows, who.business_id)],
            whole=whole,
        )

    upsert(other, [(BASE, "a", 9)])
    upsert(wh, [(BASE, "a", 1), (BASE, "b", 2)], whole=True)
    # "a" changed months later: it replaces its earlier self, whatever its date; "b" stays
    later = BASE + dt.timedelta(days=200)
    for _ in range(2):  # the same load again changes nothing
        upsert(wh, [(later, "a", 5), (later, "c", 3)])
        assert sorted(wh.query("select business_id, item, amount from raw.t__s")) == [
            ("b", "a", 5),
            ("b", "b", 2),
            ("b", "c", 3),
            ("c", "a", 9),
        ]
    with pytest.raises(RuntimeError):
        upsert(wh, [], batches=_broken())
    with pytest.raises(ValueError, match="repeat the key"):
        upsert(wh, [(BASE, "x", 1), (later, "x", 2)])
    # a whole load replaces all of the business's rows (records the platform no longer has go)
    upsert(wh, [(later, "a", 7)], whole=True)
    assert sorted(wh.query("select business_id, item, amount from raw.t__s")) == [
        ("b", "a", 7),
        ("c", "a", 9),
    ]


# ------------------------------------ faults at the exact moment (kpi_pipeline/warehouse/faults.py)

LOAD_POINTS = ("load:after_delete", "load:after_insert", "load:before_commit")


def _record(con, rows):
    """What loading.record_load does inside the load's transaction: a row in raw._loads."""
    con.execute("create table if not exists raw._loads (stream varchar, rows bigint)")
    con.execute("insert into raw._loads values ('t__s', ?)", [rows])


def _loads(wh):
    return wh.query("select stream, rows from raw._loads order by all")


def _load_recorded(wh, day_rows):
    return wh.replace_range(
        "t__s",
        COLUMNS,
        ("day", "item"),
        "day",
        BASE,
        BASE + dt.timedelta(days=1),
        [batch(day_rows, wh.business_id)],
        on_commit=_record,
    )


@pytest.mark.parametrize("point", LOAD_POINTS)
def test_a_load_failing_between_its_delete_insert_and_record_leaves_the_old_rows_and_no_record(
    tmp_path, point
):
    from kpi_pipeline.warehouse.faults import armed

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
def test_a_load_killed_between_its_delete_insert_and_record_leaves_the_old_rows_and_no_record(
    tmp_path, point
):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kpi_pipeline.warehouse.faults import ENV, EXIT_CODE

    path = tmp_path / "warehouse.duckdb"
    wh = Warehouse(path, "b")
    _load_recorded(wh, [(BASE, "a", 1)])
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", KILLED.format(root=root, path=str(path))],
        env={**os.environ, ENV: point},
        capture_output=True,
        text=True,
    )
    assert done.returncode == EXIT_CODE, (
        done.stderr
    )  # killed right there: no rollback, no clean-up ran
    assert table(wh) == [(BASE, "a", 1)] and _loads(wh) == [("t__s", 1)]
