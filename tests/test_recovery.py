"""Unattended recovery: killed syncs, the duckdb pool, runs on other hosts, Ctrl-C, a refused CSV
(a full disk, a file size limit and programs holding the files: test_storage_problems.py).

Syncs run as real `kpi` processes on a small demo setup (Stripe and the CSV, six weeks)
and are killed with SIGKILL or interrupted with SIGINT or SIGTERM; every wait is on an event (a
line of output, a process exit) with bounds that only catch a hang.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.instance_state import PID_TAG, POOL, STARTED_BY_TAG, process_tag
from kpi_pipeline.orchestration.processes import processes
from tests.conftest import AS_OF
from tests.sync_processes import HANG, read_until, start_sync
from tests.sync_processes import event as _event


def hold_the_pool(home: Path) -> str:
    """A live run (this test's own process) holding the duckdb pool slot."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.create_run_for_job(
            dg.GraphDefinition("holder").to_job(),
            run_id=str(uuid.uuid4()),
            tags={PID_TAG: process_tag(), STARTED_BY_TAG: "test holder"},
        )
        instance.handle_new_event(_event(run, dg.DagsterEventType.RUN_START))
        instance.event_log_storage.set_concurrency_slots(POOL, 1)
        assert instance.event_log_storage.claim_concurrency_slot(
            POOL, run.run_id, "raw__stripe__charges"
        ).is_claimed
        return run.run_id


def run_status(home: Path, run_id: str) -> dg.DagsterRunStatus:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_run_by_id(run_id).status


def slot_holders(home: Path) -> set[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {
            s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
        }


def test_a_sync_killed_while_loading_is_repaired_by_the_next(small_business, capsys):
    config = small_business
    proc = start_sync(config)
    read_until(proc, "> raw/stripe__charges")
    proc.kill()
    proc.wait(HANG)
    home = config.parent / ".dagster"
    assert slot_holders(home), "the killed run should still hold its slot"
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "gone" in out and "holds the duckdb pool slot" in out and "kpi doctor --repair" in out
    assert main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "repaired: marked run" in out and "freed the duckdb pool slot" in out
    assert not slot_holders(home)
    assert main(["doctor", "--config", str(config)]) == 0
    assert "ok: nothing to repair" in capsys.readouterr().out


def test_doctor_repair_frees_a_dead_runs_slot_and_removes_publish_debris(small_business, capsys):
    config = small_business
    home = config.parent / ".dagster"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.create_run_for_job(
            dg.GraphDefinition("ghost").to_job(),
            run_id=str(uuid.uuid4()),
            tags={PID_TAG: process_tag(int(dead.stdout)), STARTED_BY_TAG: "kpi sync"},
        )
        instance.handle_new_event(_event(run, dg.DagsterEventType.RUN_START))
        instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "raw__stripe__charges")
    debris = config.parent / "data" / f".analytics.duckdb.{int(dead.stdout)}.tmp"
    debris.write_bytes(b"\0" * 1_000_000)
    capsys.readouterr()
    assert main(["doctor", "--config", str(config), "--repair"]) == 0
    out = capsys.readouterr().out
    assert f"removed {debris.name} (1.0 MB)" in out and "freed the duckdb pool slot" in out
    assert not debris.exists() and not slot_holders(home)
    assert run_status(home, run.run_id) == dg.DagsterRunStatus.FAILURE
    # a run this host cannot judge (the daemon's: no kpi/pid)
    # is failed only when the operator names it
    with dg.DagsterInstance.from_config(str(home)) as instance:
        daemons = instance.create_run_for_job(
            dg.GraphDefinition("nightly").to_job(), run_id=str(uuid.uuid4())
        )
        instance.handle_new_event(_event(daemons, dg.DagsterEventType.RUN_START))
        instance.event_log_storage.claim_concurrency_slot(
            POOL, daemons.run_id, "raw__stripe__charges"
        )
    assert main(["doctor", "--config", str(config), "--repair"]) == 0
    out = capsys.readouterr().out
    assert f"kpi doctor --repair --run {daemons.run_id[:8]}" in out and slot_holders(home) == {
        daemons.run_id
    }
    assert main(["doctor", "--config", str(config), "--run", daemons.run_id[:8]]) == 2
    assert main(["doctor", "--config", str(config), "--repair", "--run", daemons.run_id[:8]]) == 0
    assert "(as told by --run)" in capsys.readouterr().out and not slot_holders(home)
    assert run_status(home, daemons.run_id) == dg.DagsterRunStatus.FAILURE


def test_a_sync_waiting_for_the_pool_names_the_holder_and_gives_up(small_business, capsys):
    config = small_business
    home = config.parent / ".dagster"
    holder = hold_the_pool(home)
    capsys.readouterr()
    assert main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat(), "--wait", "2"]) == 1
    out = capsys.readouterr().out
    assert (
        f"waiting for the duckdb pool: run {holder[:8]} started" in out
        and "test holder, pid" in out
    )
    assert "stopped: gave up after waiting 2s for the duckdb pool" in out and "KPI_POOL_WAIT" in out
    assert f"kpi doctor --repair --run {holder[:8]}" in out
    assert slot_holders(home) == {holder}  # ours gave up its place; the holder keeps its slot
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ours = [r for r in instance.get_runs() if r.run_id != holder][0]
    assert ours.status == dg.DagsterRunStatus.CANCELED
    assert f"run {ours.run_id}: CANCELED" in out  # its id, and the status Dagster recorded


def foreign_run(home: Path, started_ago: float, heard_ago: float | None, slot: bool) -> str:
    """A run of `kpi sync` on another host (a pod since replaced) that started ``started_ago``
    seconds ago; its last heartbeat ``heard_ago`` seconds ago (None: none);
    holding the duckdb pool slot."""
    from kpi_pipeline.orchestration.instance_state import HEARTBEAT_KEY

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.create_run_for_job(
            dg.GraphDefinition("ghost").to_job(),
            run_id=str(uuid.uuid4()),
            tags={PID_TAG: "kpi-nightly-29311-x7k2p:7:4242", STARTED_BY_TAG: "kpi sync"},
        )
        instance.handle_new_event(
            _event(run, dg.DagsterEventType.RUN_START, at=time.time() - started_ago)
        )
        if heard_ago is not None:
            instance.run_storage.set_cursor_values(
                {HEARTBEAT_KEY + run.run_id: str(time.time() - heard_ago)}
            )
        if slot:
            instance.event_log_storage.set_concurrency_slots(POOL, 1)
            assert instance.event_log_storage.claim_concurrency_slot(
                POOL, run.run_id, "raw__stripe__charges"
            ).is_claimed
        return run.run_id


def test_a_sync_killed_on_another_host_is_failed_once_silent_and_blocks_no_later_sync(
    small_business, capsys
):
    config = small_business
    home = config.parent / ".dagster"
    dead = foreign_run(home, started_ago=3600, heard_ago=3000, slot=True)  # silent for 50 min
    live = foreign_run(
        home, started_ago=3600, heard_ago=30, slot=False
    )  # a long run, heard of lately
    capsys.readouterr()
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert (
        f"run {dead[:8]} started" in out
        and "on host kpi-nightly-29311-x7k2p, silent for 50 min" in out
    ), out
    assert "has not been heard of for 50 min (`kpi doctor --repair` fails it" in out
    # the live one is no problem; heard of 30 s before doctor started, more on a loaded machine
    assert "1 problem(s):" in out and re.search(r"last heard \d+s ago", out), out
    with dg.DagsterInstance.from_config(
        str(home)
    ) as instance:  # the template's own sync, long ago maybe
        earlier = {r.run_id for r in instance.get_runs()}
    # the next sync fails it and takes the pool (before: it waited for it until killed)
    assert (
        main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat(), "--wait", str(HANG)])
        == 0
    )
    out = capsys.readouterr().out
    assert f"repaired: marked run {dead[:8]}" in out and "freed the duckdb pool slot" in out, out
    assert run_status(home, dead) == dg.DagsterRunStatus.FAILURE
    assert run_status(home, live) == dg.DagsterRunStatus.STARTED
    assert main(["doctor", "--config", str(config)]) == 0
    assert "ok: nothing to repair" in capsys.readouterr().out
    # the sync's own run left heartbeats for other hosts to read
    from kpi_pipeline.orchestration.instance_state import HEARTBEAT_KEY

    with dg.DagsterInstance.from_config(str(home)) as instance:
        ours = [r.run_id for r in instance.get_runs() if r.run_id not in earlier]
        beats = instance.run_storage.get_cursor_values({HEARTBEAT_KEY + r for r in ours})
    assert beats and all(time.time() - float(v) < HANG for v in beats.values()), beats
    # once the other one falls silent past the bound, doctor --repair fails it
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.run_storage.set_cursor_values({HEARTBEAT_KEY + live: str(time.time() - 660)})
    assert main(["doctor", "--config", str(config), "--repair"]) == 0
    assert f"repaired: marked run {live[:8]}" in capsys.readouterr().out
    assert run_status(home, live) == dg.DagsterRunStatus.FAILURE


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_a_waiting_sync_promptly(small_business, signum):
    config = small_business
    home = config.parent / ".dagster"
    holder = hold_the_pool(home)
    proc = start_sync(config)
    read_until(proc, "waiting for the duckdb pool")
    proc.send_signal(signum)
    rest, _ = proc.communicate(
        timeout=HANG
    )  # Dagster alone defers the signal until the pool frees: forever
    assert proc.returncode == 1, rest
    assert "stopped: interrupted" in rest and "Traceback" not in rest
    assert slot_holders(home) == {holder}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        statuses = {r.status for r in instance.get_runs() if r.run_id != holder}
    assert statuses <= {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED}
    assert dg.DagsterRunStatus.CANCELED in statuses
    # nor is any of Dagster's compute-log `tail -F` left behind (before its watcher ends it)
    assert not [
        args for _, _, args in processes() if args.startswith("tail ") and str(home) in args
    ]


def test_a_refused_csv_is_bad_input_and_the_other_sources_still_load(small_business, capsys):
    config = small_business
    (config.parent / "metrics.csv").write_text(
        "date,kpi_id,value\n2026-11-02,staff_sick_days,two\n"
    )
    assert main(["check", "--config", str(config)]) == 2
    assert "line 2: value 'two' is not a number" in capsys.readouterr().err
    assert main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat()]) == 2
    out = capsys.readouterr()
    assert "metrics.csv was refused: fix the lines named above" in out.err
    con = duckdb.connect(str(load_config(config).published_path), read_only=True)
    assert con.execute("select count(*) from raw.stripe__charges").fetchone()[0] > 0
    # the rows of the last good file stay: a refused file changes nothing
    assert con.execute("select kpi_id, value from raw.manual__metrics").fetchall() == [
        ("staff_sick_days", 2.0)
    ]
    con.close()
    (config.parent / "metrics.csv").write_text("date;kpi_id;value\n2-11-2026;staff_sick_days;1,5\n")
    assert main(["check", "--config", str(config)]) == 0
    assert "manual: 1 rows" in capsys.readouterr().out


def test_a_changed_custom_kpi_label_reaches_the_catalog_on_the_next_sync(small_business, capsys):
    config = small_business
    config.write_text(config.read_text().replace("label: Sick days", "label: Days off sick"))
    assert (
        main(["sync", "--config", str(config), "--as-of", AS_OF.isoformat(), "--source", "stripe"])
        == 0
    )
    con = duckdb.connect(str(load_config(config).published_path), read_only=True)
    label = con.execute(
        "select label from kpis.catalog where kpi_id = 'staff_sick_days'"
    ).fetchone()[0]
    con.close()
    assert label == "Days off sick"
