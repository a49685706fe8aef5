"""Stopping a run, on Dagster's internals (kpi_pipeline/orchestration/dagster_private.py): a test
per behaviour relied on (an exception raised in the run's thread, the end of Dagster's log capture,
hand-freed pool slots), and Ctrl-C on a Dagster version they were not tested with (env
KPI_PRETEND_DAGSTER_VERSION, read by the adapter): the stop Dagster makes itself at the end of a
step. The door and the event log: tests/test_dagster_private.py.
"""

import _thread
import io
import os
import signal
import sys
import threading
import time
import uuid

import dagster as dg
import pytest

from kpi_pipeline.orchestration import dagster_private
from kpi_pipeline.orchestration.processes import processes
from kpi_pipeline.orchestration.progress import Watch
from kpi_pipeline.orchestration.supervisor import Supervisor
from tests.dagster_homes import dagster_home
from tests.dagster_homes import pretend_untested as _pretend_untested
from tests.sync_processes import HANG


@dg.asset(pool="p")
def pooled() -> None:
    pass


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh DAGSTER_HOME whose dagster.yaml names our event log,
    as `kpi init-instance` writes it."""
    return dagster_home(tmp_path, monkeypatch)


# -- the behaviours relied on, on the installed Dagster -----------------------------------------


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
        _thread.interrupt_main(
            signal.SIGTERM
        )  # as SIGTERM arriving: the supervisor's handler takes it

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
