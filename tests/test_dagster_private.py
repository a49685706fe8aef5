"""kpi's uses of Dagster's internals (kpi_pipeline/orchestration/dagster_private.py): one door, a
test per behaviour they rely on, and a clean fallback on a Dagster version
they were not tested with.

Each behaviour test fails if that Dagster behaviour changes; the fallback tests pretend an
untested version (env KPI_PRETEND_DAGSTER_VERSION, read by the adapter) and show Dagster's stock
storage, one warning and a sync that still works.
"""

import _thread
import ast
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path

import dagster as dg
import pytest
import tomllib

from kpi_pipeline.orchestration import dagster_private
from kpi_pipeline.orchestration.instance_setup import EVENT_LOG_BLOCK, INSTANCE_YAML
from kpi_pipeline.orchestration.processes import processes
from kpi_pipeline.orchestration.progress import Watch
from kpi_pipeline.orchestration.supervisor import Supervisor
from tests.conftest import AS_OF
from tests.sync_processes import HANG, KPI, environment, small_setup

ROOT = Path(__file__).resolve().parent.parent
DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")
UNTESTED = "1.99.0"


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"{len(context.partition_keys)} days")


@dg.asset(pool="p")
def pooled() -> None:
    pass


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh DAGSTER_HOME whose dagster.yaml names our event log,
    as `kpi init-instance` writes it."""
    folder = tmp_path / ".dagster"
    folder.mkdir()
    (folder / "dagster.yaml").write_text(INSTANCE_YAML + EVENT_LOG_BLOCK)
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    monkeypatch.delenv(dagster_private.PRETEND_ENV, raising=False)
    monkeypatch.setitem(dagster_private._warned, "done", False)
    return folder


def _range_run(
    instance: dg.DagsterInstance, first: str = "2026-11-01", last: str = "2026-11-10"
) -> str:
    job = dg.Definitions(assets=[daily]).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    assert result.success
    return result.run_id


# -- the door ------------------------------------------------------------------------------------


def test_only_the_adapter_touches_dagsters_internals():
    offenders = []
    for path in sorted(
        [
            *(ROOT / "kpi_pipeline").rglob("*.py"),
            *(ROOT / "tests").rglob("*.py"),
            *(ROOT / "bench").rglob("*.py"),
        ]
    ):
        if path.name in (
            "dagster_private.py",
            "test_dagster_private.py",
        ):  # the door, and its tests
            continue
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name}: imports {n}"
                for n in names
                if n.startswith("dagster._") or n == "ctypes"
            ]
        for needle in ("PyThreadState_SetAsyncExc", "free_concurrency_slots_for_run", "dagster._"):
            if needle in re.sub(
                r'"""[\s\S]*?"""|#.*', "", source
            ):  # code, not docstrings or comments
                offenders.append(f"{path.name}: uses {needle}")
    assert not offenders, offenders


def test_pyproject_pins_dagster_to_the_tested_range_and_the_installed_one_is_in_it(home):
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert dagster_private.PIN in deps
    low = ".".join(map(str, dagster_private.TESTED_FROM))
    high = ".".join(map(str, dagster_private.TESTED_BELOW))
    assert dagster_private.PIN == f"dagster>={low},<{high}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dagster_private.tested()


# -- the behaviours relied on, on the installed Dagster -----------------------------------------


def test_dagster_reads_and_writes_every_file_through_connect(home):
    """Kept engines: Dagster's SQLite event log opens the index and each run's file through
    ``_connect(shard)`` (ours keeps an engine there), and ``_initdb`` makes a new file's tables."""
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, dagster_private._batched_storage_class())
        run_id = _range_run(instance)
        assert {"index", run_id} <= set(storage._engines)
        assert (
            len(instance.get_records_for_run(run_id).records) > 10
        )  # read through the kept engine


def test_dagster_hands_a_range_runs_materializations_to_storage_in_one_batch(home, monkeypatch):
    """Batched writes: with DAGSTER_EVENT_BATCH_SIZE a run over 10 days hands the storage its 10
    materializations in one ``store_event_batch`` call."""
    cls = dagster_private._batched_storage_class()
    sizes = []
    original = cls.store_event_batch

    def spy(self, events):
        sizes.append(
            sum(e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION for e in events)
        )
        return original(self, events)

    monkeypatch.setattr(cls, "store_event_batch", spy)
    with dg.DagsterInstance.get() as instance:
        _range_run(instance)
    assert 10 in sizes, sizes


def test_a_batch_is_written_in_one_transaction_per_file_and_reads_back_whole(home, monkeypatch):
    """``prepare_insert_event``, ``run_connection``, ``index_transaction`` and
    ``_store_asset_event_tags`` / ``_store_asset_event``: 10 materializations, two transactions,
    and Dagster's reads (per day, latest) see all of them (tests/test_event_log.py compares every
    read with Dagster's own storage)."""
    cls = dagster_private._batched_storage_class()
    opened = []
    original = cls._connect

    def counting(self, shard):
        opened.append(shard)
        return original(self, shard)

    with dg.DagsterInstance.get() as instance:
        run_id = _range_run(instance)
        events = [
            r.event_log_entry
            for r in instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
        ]
        assert len(events) == 10
        instance.event_log_storage.delete_events(run_id)
        monkeypatch.setattr(cls, "_connect", counting)
        instance.event_log_storage.store_event_batch(events)
        monkeypatch.setattr(cls, "_connect", original)
        key = dg.AssetKey("daily")
        assert opened == [run_id, "index"]
        assert len(instance.get_materialized_partitions(key)) == 10
        assert instance.get_latest_materialization_event(key).run_id == run_id
        assert (
            len(
                instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=key), limit=100
                ).records
            )
            == 10
        )


def _hold_pool(instance: dg.DagsterInstance) -> str:
    holder = str(uuid.uuid4())
    instance.event_log_storage.set_concurrency_slots("p", 1)
    assert instance.event_log_storage.claim_concurrency_slot(
        "p", holder, "someone__else"
    ).is_claimed
    return holder


def _wait_for(check, what: str) -> None:
    deadline = time.monotonic() + HANG  # only a hang takes this long
    while not check():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.05)


def test_a_keyboard_interrupt_raised_in_a_run_thread_stops_it_while_it_waits_for_a_pool(home):
    """The async-exception stop: Dagster, in a worker thread waiting for a pool slot, takes the
    KeyboardInterrupt at once and ends the run."""
    with dg.DagsterInstance.get() as instance:
        _hold_pool(instance)
        job = dg.Definitions(assets=[pooled]).resolve_implicit_global_asset_job_def()
        run_id, box = str(uuid.uuid4()), {}

        def work():
            try:
                box["result"] = job.execute_in_process(
                    instance=instance, run_id=run_id, raise_on_error=False
                )
            except BaseException as err:  # noqa: BLE001
                box["error"] = err

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        _wait_for(
            lambda: any(
                s.run_id == run_id
                for s in instance.event_log_storage.get_concurrency_info("p").pending_steps
            ),
            "the step queued for the pool",
        )
        assert dagster_private.interrupt_thread(thread)
        thread.join(HANG)
        assert not thread.is_alive()
        assert isinstance(box.get("error"), KeyboardInterrupt) or not box["result"].success, box


def _own_children(run_id: str) -> list[str]:
    """This process's children that Dagster's compute-log capture started for ``run_id``: its
    ``tail -F`` of the run's logs and the watchers beside them."""
    return [
        args
        for _, ppid, args in processes()
        if ppid == os.getpid() and (run_id in args or "watch_orphans" in args)
    ]


def _supervised(instance: dg.DagsterInstance, job, stop_when=None) -> tuple[Supervisor, str]:
    """``job`` run as `kpi sync` runs it (this thread supervising); ``stop_when(thread)``, checked
    from a helper thread, sends this process SIGTERM as soon as it is true of the run's thread."""
    supervisor = Supervisor(instance, Watch(), io.StringIO(), pool_wait=HANG)

    def stopper() -> None:
        _wait_for(
            lambda: any(
                t.name.startswith("kpi-run-") and stop_when(t) for t in threading.enumerate()
            ),
            "the moment to stop",
        )
        _thread.interrupt_main(signal.SIGTERM)  # as SIGTERM arriving: the supervisor's handler

    if stop_when is not None:
        threading.Thread(target=stopper, daemon=True).start()
    _, stopped = supervisor.run(job, raise_on_error=False)
    return supervisor, stopped


def test_a_run_stopped_in_dagsters_log_capture_clean_up_leaves_no_tail_behind(home, monkeypatch):
    """Dagster mirrors a run's stdout and stderr with a ``tail -F`` child each and ends them in a
    ``finally``; an interrupt landing there (here: in the wait Dagster's
    DAGSTER_COMPUTE_LOG_TAIL_WAIT_AFTER_FINISH adds to it) skipped the rest, leaving a tail and its
    watcher for as long as the process lived. ``end_log_capture`` ends them."""
    monkeypatch.setenv(
        "DAGSTER_COMPUTE_LOG_TAIL_WAIT_AFTER_FINISH", str(HANG)
    )  # only a stop ends it
    ran = threading.Event()

    @dg.asset
    def quick() -> None:
        ran.set()

    def in_capture_clean_up(thread: threading.Thread) -> bool:  # the run is done, its tails not yet
        frame = sys._current_frames().get(thread.ident)
        return ran.is_set() and frame is not None and frame.f_code.co_name == "execute_posix_tail"

    with dg.DagsterInstance.get() as instance:
        job = dg.Definitions(assets=[quick]).resolve_implicit_global_asset_job_def()
        supervisor, stopped = _supervised(instance, job, in_capture_clean_up)
        left = _own_children(supervisor.run_id)
        dagster_private.end_log_capture(
            supervisor.run_id
        )  # whatever happened, none outlive the test
    assert stopped.startswith("interrupted"), stopped
    assert left == [], left


def test_freeing_a_runs_slots_frees_its_claims_and_its_queued_steps(home):
    """Hand-freed slots: the storage call Dagster's daemon makes frees a run's claimed slot and
    drops its queued steps, so the next run gets the pool."""
    with dg.DagsterInstance.get() as instance:
        holder = _hold_pool(instance)
        queued = str(uuid.uuid4())
        assert not instance.event_log_storage.claim_concurrency_slot(
            "p", queued, "waiting__step"
        ).is_claimed
        assert dagster_private.free_pool_slots(instance, holder)
        assert dagster_private.free_pool_slots(instance, queued)
        info = instance.event_log_storage.get_concurrency_info("p")
        assert not info.claimed_slots and not info.pending_steps and info.slot_count == 1
        assert instance.event_log_storage.claim_concurrency_slot("p", "next", "step").is_claimed


# -- an untested Dagster: the fallback ----------------------------------------------------------


def _pretend_untested(monkeypatch) -> None:
    monkeypatch.setenv(dagster_private.PRETEND_ENV, UNTESTED)
    monkeypatch.setitem(dagster_private._warned, "done", False)


def test_an_untested_dagster_reads_an_instance_naming_ours_with_its_stock_storage_and_one_warning(
    home, monkeypatch
):
    _pretend_untested(monkeypatch)
    with pytest.warns(dagster_private.UntestedDagsterWarning) as caught:
        with dg.DagsterInstance.get() as instance:
            assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
            assert _range_run(instance)
            assert len(instance.get_materialized_partitions(dg.AssetKey("daily"))) == 10
        assert not dagster_private.interrupt_thread(
            threading.current_thread()
        )  # no async stop either
    assert len(caught) == 1
    message = str(caught[0].message)
    assert (
        UNTESTED in message
        and dagster_private.PIN in message
        and "stock SQLite event log" in message
    )
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML + EVENT_LOG_BLOCK  # never rewritten


def test_the_stock_class_is_found_without_its_module_path_too(monkeypatch):
    monkeypatch.setattr(
        dagster_private,
        "STOCK_EVENT_LOG",
        ("dagster._core.storage.moved_away", "SqliteEventLogStorage"),
    )
    assert dagster_private._stock_sqlite_event_log().__name__ == "SqliteEventLogStorage"


def _sync(config: Path, version: str | None) -> tuple[int, str]:
    """`kpi sync` in a child process, pretending Dagster ``version`` (None: the installed one)."""
    env = environment(config.parent) | ({dagster_private.PRETEND_ENV: version} if version else {})
    done = subprocess.run(
        [*KPI, "sync", "--config", str(config), "--as-of", AS_OF.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        timeout=HANG,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_sync_on_an_untested_dagster_works_end_to_end_on_dagsters_stock_storage(tmp_path):
    config = small_setup(tmp_path)
    code, out = _sync(config, UNTESTED)
    assert code == 0, out
    assert out.count(f"Dagster {UNTESTED} is outside the versions kpi was tested with") == 1, out
    assert (
        "event_log_storage" not in (tmp_path / ".dagster" / "dagster.yaml").read_text()
    )  # Dagster's default
    assert re.search(r"run \S+: ok", out) and "FAILED" not in out, out
    # back on a tested Dagster, the next sync gains the batched event log (same files)
    # and reads them
    code, again = _sync(config, None)
    assert code == 0 and "outside the versions" not in again, again
    assert EVENT_LOG_BLOCK in (tmp_path / ".dagster" / "dagster.yaml").read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_on_an_untested_dagster_ctrl_c_stops_a_run_at_the_next_step_and_kpi_says_so(
    home, monkeypatch, signum
):
    """No async stop there: Dagster's own handling takes the signal at the end of the step then
    running (that step fails with its interruption error) and runs no further step. kpi calls it
    a stop, not a failure, and records the run canceled; the instance runs the next run as usual."""
    _pretend_untested(monkeypatch)
    saved = {
        each: signal.getsignal(each) for each in (signal.SIGINT, signal.SIGTERM)
    }  # Dagster leaves
    # SIGTERM on the SIGINT handler after a run: put both back for the tests after this one
    ran = []

    @dg.asset
    def first() -> None:
        ran.append("first")
        _thread.interrupt_main(signum)  # the signal arriving while a step runs

    @dg.asset(deps=[first])
    def second() -> None:
        ran.append("second")

    try:
        with (
            pytest.warns(dagster_private.UntestedDagsterWarning),
            dg.DagsterInstance.get() as instance,
        ):
            job = dg.Definitions(assets=[first, second]).resolve_implicit_global_asset_job_def()
            supervisor, stopped = _supervised(instance, job)
            assert ran == ["first"]
            assert (
                stopped == "interrupted (Ctrl-C or SIGTERM) at the end of a step "
                "(this Dagster stops a run only there)"
            )
            assert instance.get_run_by_id(supervisor.run_id).status == dg.DagsterRunStatus.CANCELED
            assert _own_children(supervisor.run_id) == []
            # not broken: the next run runs both steps
            result = (
                dg.Definitions(assets=[first, second])
                .resolve_implicit_global_asset_job_def()
                .execute_in_process(instance=instance, asset_selection=[dg.AssetKey("second")])
            )
            assert result.success and ran == ["first", "second"]
    finally:
        for each, handler in saved.items():
            signal.signal(each, handler)
