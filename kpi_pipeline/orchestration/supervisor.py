"""Running a job in a worker thread, so that Ctrl-C and SIGTERM stop it promptly, its heartbeat
goes on, and a run waiting too long for a pool says who holds it and gives up."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from typing import Any, TextIO

import dagster as dg
from dagster import DagsterEventType

from kpi_pipeline.orchestration.dagster_private import (
    end_log_capture,
    free_pool_slots,
    interrupt_thread,
    tested,
)
from kpi_pipeline.orchestration.instance_state import HEARTBEAT_EVERY, heartbeat, pool_holders
from kpi_pipeline.orchestration.progress import Watch


class Supervisor:
    """Runs a job in a worker thread so that the main thread stays free: Ctrl-C and SIGTERM stop
    the run promptly (Dagster defers them while a step waits for the pool), and a run that waits
    for the pool longer than ``pool_wait`` says who holds it and gives up."""

    def __init__(
        self, instance: dg.DagsterInstance, watch: Watch, out: TextIO, pool_wait: float
    ) -> None:
        self.instance, self.watch, self.out, self.pool_wait = instance, watch, out, pool_wait
        self.run_id = ""  # the last run started

    def run(self, job: Any, **kwargs: Any) -> tuple[Any, str]:
        run_id = str(uuid.uuid4())
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = job.execute_in_process(
                    instance=self.instance, run_id=run_id, **kwargs
                )
            except BaseException as err:  # noqa: BLE001 - handed to the main thread
                box["error"] = err

        self.run_id = run_id  # known even when the run is stopped before it returns a result
        if tested():
            stopped = self._supervise(
                threading.Thread(target=work, name=f"kpi-run-{run_id[:8]}", daemon=True), run_id
            )
            if stopped:  # the interrupt may have landed in Dagster's clean-up of its log capture
                end_log_capture(run_id)
        else:
            # stopping a run from outside relies on Dagster's internals: Dagster's own stop instead
            stopped = self._run_here(work, run_id, box)
        try:
            self._settle(run_id, stopped)
        except Exception as err:  # noqa: BLE001 - Dagster's storage failed (a full disk): the first error says why
            box.setdefault("error", err)
        if "error" in box and not stopped:
            box["error"].kpi_run_id = run_id  # for the caller, to mark the run failed once it can
            raise box["error"]
        return box.get("result"), stopped

    def _supervise(self, thread: threading.Thread, run_id: str) -> str:
        """Run ``thread`` (the job) while this thread beats, says who holds the pool, gives up on
        the pool after ``pool_wait`` and stops it on Ctrl-C or SIGTERM. Returns why it stopped."""
        stopped, told, interrupts = "", False, 0
        next_beat = time.monotonic()
        with _terminate_as_interrupt():
            thread.start()
            while thread.is_alive():
                try:
                    thread.join(0.2)
                    next_beat, told = self._tick(run_id, next_beat, told)
                    since = self.watch.blocked_since
                    if (
                        since is not None
                        and not stopped
                        and time.monotonic() - since > self.pool_wait
                    ):
                        holders = pool_holders(self.instance, own_run=run_id)
                        ids = " ".join(f"--run {h.run_id[:8]}" for h in holders)
                        stopped = (
                            f"gave up after waiting {self.pool_wait:.0f}s for the "
                            f"{self.watch.blocked_pool} pool, held by {self._holders(run_id)}; if "
                            f"that run is dead, `kpi doctor --repair {ids}` frees it "
                            "(KPI_POOL_WAIT sets the wait)"
                        )
                        self._stop(thread, run_id, stopped)
                except KeyboardInterrupt:
                    interrupts += 1
                    if interrupts > 1:
                        raise
                    stopped = "interrupted (Ctrl-C or SIGTERM); nothing half-written was kept"
                    self.out.write("\n  stopping the run (Ctrl-C again to quit at once)\n")
                    self._stop(thread, run_id, stopped)
        return stopped

    def _run_here(self, work: Any, run_id: str, box: dict[str, Any]) -> str:
        """Run ``work`` in this thread, as Dagster runs a job: Ctrl-C and SIGTERM are Dagster's to
        handle (it stops at the next step, not while one waits for a pool), and the pool wait never
        gives up; a helper thread beats and says who holds the pool. Returns why it stopped."""
        done = threading.Event()

        def watch() -> None:
            next_beat, told = time.monotonic(), False
            while not done.wait(0.2):
                next_beat, told = self._tick(run_id, next_beat, told)

        helper = threading.Thread(target=watch, name=f"kpi-watch-{run_id[:8]}", daemon=True)
        helper.start()
        try:
            work()
        finally:
            done.set()
            helper.join()
        if isinstance(box.get("error"), KeyboardInterrupt):
            box.pop("error")
            return "interrupted (Ctrl-C or SIGTERM)"
        if _interrupted(box.get("result")):
            # Dagster took the signal at the end of the step then running and failed the run; kpi
            # says it was stopped (no failure alert) and records it as Dagster does a stop: canceled
            run = self.instance.get_run_by_id(run_id)
            if run is not None and run.status == dg.DagsterRunStatus.FAILURE:
                self.instance.report_run_canceled(run, message="interrupted (Ctrl-C or SIGTERM)")
            return (
                "interrupted (Ctrl-C or SIGTERM) at the end of a step "
                "(this Dagster stops a run only there)"
            )
        return ""

    def _tick(self, run_id: str, next_beat: float, told: bool) -> tuple[float, bool]:
        """One look at a running run: its heartbeat when due (so that other hosts sharing the
        instance see it live), and once, who holds the pool it waits for. Returns when the next
        beat is due and whether the holders were told."""
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + HEARTBEAT_EVERY
            heartbeat(self.instance, run_id)
        if self.watch.blocked_since is not None and not told:
            told = True
            self.out.write(
                f"  waiting for the {self.watch.blocked_pool} pool: {self._holders(run_id)}\n"
            )
            self.out.flush()
        return next_beat, told

    def _holders(self, run_id: str) -> str:
        holders = pool_holders(self.instance, own_run=run_id)
        return "; ".join(h.describe() for h in holders) or "another run"

    def _stop(self, thread: threading.Thread, run_id: str, why: str) -> None:
        run = self.instance.get_run_by_id(run_id)
        if run is not None and run.status in (
            dg.DagsterRunStatus.STARTED,
            dg.DagsterRunStatus.STARTING,
        ):
            self.instance.report_run_canceling(run, message=why)
        # the interrupt may land while SQLAlchemy closes a storage connection: it logs that (with a
        # traceback) before passing the interrupt on; the stop is said once, by us
        quiet = logging.getLogger("sqlalchemy")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        interrupt_thread(thread)

    def _settle(self, run_id: str, stopped: str) -> None:
        """A stopped run ends canceled, without a pool claim, whatever point it was stopped at."""
        run = self.instance.get_run_by_id(run_id)
        if run is not None and run.status in (
            dg.DagsterRunStatus.STARTED,
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.CANCELING,
            dg.DagsterRunStatus.NOT_STARTED,
        ):
            self.instance.report_run_canceled(
                run, message=stopped or "the run ended without finishing"
            )
        if stopped:
            free_pool_slots(self.instance, run_id)


def _interrupted(result: Any) -> bool:
    """Whether Dagster ended ``result``'s run because of Ctrl-C or SIGTERM (its own handling: the
    step running then fails with DagsterExecutionInterruptedError,
    or the run with the interrupt)."""
    names = {dg.DagsterExecutionInterruptedError.__name__, KeyboardInterrupt.__name__}
    for event in result.all_events if result is not None else []:
        data = (
            event.step_failure_data
            if event.event_type == DagsterEventType.STEP_FAILURE
            else event.job_failure_data
            if event.event_type == DagsterEventType.RUN_FAILURE
            else None
        )
        if data is not None and data.error is not None and data.error.cls_name in names:
            return True
    return False


class _terminate_as_interrupt:
    """While a run is supervised, SIGTERM stops it like Ctrl-C (main thread only)."""

    def __enter__(self) -> None:
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)

    @staticmethod
    def _handle(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
