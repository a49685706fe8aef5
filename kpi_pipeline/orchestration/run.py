"""Run the asset graph through Dagster against the instance in DAGSTER_HOME, with progress."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, TextIO

import dagster as dg
from dagster import DagsterEventType

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.orchestration.dagster_private import (
    end_log_capture,
    free_pool_slots,
    interrupt_thread,
    tested,
)
from kpi_pipeline.orchestration.defs import build_definitions
from kpi_pipeline.orchestration.instance_setup import (  # noqa: F401 - kpi.run's public names
    EVENT_LOG_BLOCK,
    INSTANCE_YAML,
    ensure_instance,
    ensure_portfolio_instance,
    set_api_pools,
    write_workspace,
)
from kpi_pipeline.orchestration.instance_state import (
    HEARTBEAT_EVERY,
    LAUNCHED_BY_TAG,
    PID_TAG,
    POOL,
    STARTED_BY_TAG,
    heartbeat,
    pool_holders,
    process_tag,
)
from kpi_pipeline.orchestration.schedules import NIGHTLY_JOB, REFRESH_JOB, run_tags
from kpi_pipeline.reporting.alerts import announce_failure, root_message
from kpi_pipeline.sources.windows import AS_OF_TAG, PARTITION_TAG, PROGRESS_MARK

POOL_WAIT = 900.0  # seconds a run waits for the duckdb pool before it gives up (env KPI_POOL_WAIT)
# Dagster's own setting: a run over a range of days plans one event per asset for the whole range
# instead of one per day (a first sync of 14 months: 14 daily streams x 425 days = 5,950 events
# written before the first step; a sync over 6 months of 5 sources took 23% less time with it).
# The trade-off, chosen deliberately: when such a run fails, its days show as missing rather than
# failed in the UI's partition view; `kpi sync` and the failure alert name the failed streams, and
# "materialize missing" picks those days up. A nightly run plans one day either way.
PLANNED_AS_ONE = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE"


@dataclass
class StreamLine:
    asset: str
    rows: int
    requests: int
    seconds: float
    window: str


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    streams: list[StreamLine]
    failures: list[str]
    causes: dict[str, list[str]] = field(default_factory=dict)  # root cause -> steps it failed
    stopped: str = ""  # why the run was stopped from outside (Ctrl-C, waited too long for the pool)
    status: str = ""  # the run's end as Dagster recorded it (SUCCESS, FAILURE, CANCELED)

    @property
    def word(self) -> str:
        """The run's end for ``run <id>: ...``: ok, FAILED, or CANCELED when it was stopped."""
        return "ok" if self.success else "CANCELED" if self.status == "CANCELED" else "FAILED"


@dataclass
class _Watch:
    """What the progress logger saw, for the thread that supervises the run."""

    blocked_since: float | None = None
    blocked_pool: str = POOL  # the pool a step waits for (a portfolio has several)
    causes: dict[str, list[str]] = field(default_factory=dict)
    steps: int = 0  # steps the current run plans, for "(5/65, 12s)" on each step's line
    started_steps: int = 0
    started: float = field(default_factory=time.monotonic)

    def plan(self, job: Any, keys: list[dg.AssetKey]) -> None:
        """Count the steps of ``job`` over ``keys`` (assets and their separate checks) afresh."""
        self.steps = len(job.get_subset(asset_selection=set(keys)).graph.nodes)
        self.started_steps = 0


def _progress_logger(out: TextIO, watch: _Watch) -> dg.LoggerDefinition:
    @dg.logger(None, description="One line per asset step for the kpi command.")  # None: no config
    def progress(_init_context: dg.InitLoggerContext) -> logging.Logger:
        log = logging.getLogger(f"kpi.progress.{id(out)}.{id(watch)}")
        log.setLevel(logging.DEBUG)
        log.propagate = False

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                meta = getattr(record, "dagster_meta", None) or {}
                event = meta.get("dagster_event")
                step = meta.get("step_key") or ""
                name = step.replace("__", "/", 1)
                if event is None:
                    message = meta.get("orig_message", record.getMessage())
                    if record.levelno >= logging.WARNING:
                        out.write(f"    ! {message}\n")
                    elif message.startswith(PROGRESS_MARK):
                        out.write(f"    {message.removeprefix(PROGRESS_MARK)}\n")
                        out.flush()
                    return
                kind = event.event_type
                if kind == DagsterEventType.STEP_START:
                    watch.blocked_since = None
                    watch.started_steps += 1
                    out.write(
                        f"  > {name}  ({watch.started_steps}/{watch.steps}, "
                        f"{time.monotonic() - watch.started:.0f}s)\n"
                    )
                elif kind == DagsterEventType.ENGINE_EVENT and "blocked by limit for pool" in (
                    event.message or ""
                ):
                    if watch.blocked_since is None:
                        watch.blocked_since = time.monotonic()
                        found = re.search(
                            r"blocked by limit for pool (\S+?)[.,]?(\s|$)", event.message or ""
                        )
                        watch.blocked_pool = found[1] if found else POOL
                elif kind == DagsterEventType.STEP_FAILURE:
                    message = root_message(event.step_failure_data.error)
                    steps = watch.causes.setdefault(message, [])
                    steps.append(name)
                    # one cause, said once: a disk that is full fails every later step the same way
                    out.write(
                        f"  x {name} failed: {message}\n"
                        if len(steps) == 1
                        else f"  x {name} failed (the same cause)\n"
                    )
                elif kind == DagsterEventType.STEP_SKIPPED:
                    out.write(f"  - {name} skipped (an upstream step failed)\n")
                elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                    data = event.event_specific_data
                    if not data.passed:
                        out.write(
                            f"    ! check {data.check_name} on {data.asset_key.to_user_string()} "
                            "did not pass\n"
                        )
                out.flush()

        log.handlers = [Handler()]
        return log

    return progress


class _Supervisor:
    """Runs a job in a worker thread so that the main thread stays free: Ctrl-C and SIGTERM stop
    the run promptly (Dagster defers them while a step waits for the pool), and a run that waits
    for the pool longer than ``pool_wait`` says who holds it and gives up."""

    def __init__(
        self, instance: dg.DagsterInstance, watch: _Watch, out: TextIO, pool_wait: float
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
                    if (
                        time.monotonic() >= next_beat
                    ):  # so that other hosts sharing the instance see it live
                        next_beat = time.monotonic() + HEARTBEAT_EVERY
                        heartbeat(self.instance, run_id)
                    since = self.watch.blocked_since
                    if since is not None and not told:
                        told = True
                        self.out.write(
                            f"  waiting for the {self.watch.blocked_pool} pool: "
                            f"{self._holders(run_id)}\n"
                        )
                        self.out.flush()
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
            told, next_beat = False, time.monotonic()
            while not done.wait(0.2):
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_EVERY
                    heartbeat(self.instance, run_id)
                if self.watch.blocked_since is not None and not told:
                    told = True
                    self.out.write(
                        f"  waiting for the {self.watch.blocked_pool} pool: "
                        f"{self._holders(run_id)}\n"
                    )
                    self.out.flush()

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


def run_pipeline(
    settings: Settings,
    as_of: dt.date,
    *,
    sources: list[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    out: TextIO | None = None,
    pool_wait: float | None = None,
    started_by: str = "kpi sync",
    instance: dg.DagsterInstance | None = None,
) -> RunOutcome:
    """Materialize the selected sources' streams and everything downstream, in one run
    (``instance``: the caller's, already open; else one from DAGSTER_HOME, closed at the end)."""
    out = out or sys.stdout
    pool_wait = (
        float(os.environ.get("KPI_POOL_WAIT", POOL_WAIT)) if pool_wait is None else pool_wait
    )
    os.environ.setdefault(PLANNED_AS_ONE, "1")
    os.environ.setdefault(BATCH_SIZE, "1000")
    ensure_instance(settings)
    watch = _Watch()
    defs = build_definitions(settings)
    defs = dg.Definitions.merge(
        defs, dg.Definitions(loggers={"progress": _progress_logger(out, watch)})
    )
    job = defs.resolve_job_def(NIGHTLY_JOB)
    graph = defs.resolve_asset_graph()
    selection: dg.AssetSelection = dg.AssetSelection.all()
    if sources:
        # the chosen sources' streams, and every model, snapshot, report and publish step: a model
        # reads all its upstream tables, and on a new warehouse those of the other sources (and the
        # Python tables like kpis.parameters) exist only once their assets have run
        others = [s for s in settings.enabled_sources() if s not in sources]
        selection = dg.AssetSelection.all() - dg.AssetSelection.groups(*others)
    keys = sorted(selection.resolve(graph))
    run_config: dict[str, Any] = {"loggers": {"progress": {}}}
    who = {PID_TAG: process_tag(), STARTED_BY_TAG: started_by, LAUNCHED_BY_TAG: started_by}
    with nullcontext(instance) if instance is not None else dg.DagsterInstance.get() as instance:
        supervisor = _Supervisor(instance, watch, out, pool_wait)
        tags = run_tags(settings, as_of, start, end)
        partition = tags.pop(PARTITION_TAG, None)
        if not any(graph.get(k).partitions_def for k in keys):
            partition = (
                None  # e.g. only the CSV: nothing is partitioned, each stream takes its lookback
            )
        watch.plan(job, keys)
        result, stopped = supervisor.run(
            job,
            tags={**tags, **who},
            partition_key=partition,
            asset_selection=keys,
            raise_on_error=False,
            run_config=run_config,
        )
        main_run = supervisor.run_id
        failed_raw = (
            []
            if result is None
            else [
                e.step_key
                for e in result.all_events
                if e.event_type == DagsterEventType.STEP_FAILURE
                and (e.step_key or "").startswith("raw__")
            ]
        )
        if failed_raw and not stopped:
            # the scorecard still moves on: what did load is used, what did not shows no_data
            out.write("  refreshing models and the scorecard from the data that did load\n")
            refresh = defs.resolve_job_def(REFRESH_JOB)
            refresh_keys = [k for k in keys if k.path[len(settings.key_prefix)] != "raw"]
            watch.plan(refresh, refresh_keys)
            _, stopped = supervisor.run(
                refresh,
                tags={AS_OF_TAG: as_of.isoformat(), "kpi/refresh_after": result.run_id, **who},
                asset_selection=refresh_keys,
                raise_on_error=False,
                run_config=run_config,
            )
        record = instance.get_run_by_id(
            main_run
        )  # as Dagster recorded it: a stopped run is CANCELED
    streams: list[StreamLine] = []
    failures: list[str] = []
    for event in result.all_events if result is not None else []:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            key = "/".join(
                mat.asset_key.path[len(settings.key_prefix) :]
            )  # without a portfolio's business
            if not key.startswith("raw/") or any(s.asset == key for s in streams):
                continue
            md = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
            streams.append(
                StreamLine(
                    key,
                    int(md.get("rows", 0)),
                    int(md.get("requests", 0)),
                    float(md.get("seconds", 0.0)),
                    str(md.get("window", "")),
                )
            )
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            failures.append(event.step_key or "?")
    success = bool(result is not None and result.success and not stopped)
    status = record.status.value if record is not None else ("SUCCESS" if success else "FAILURE")
    if result is not None and not success and not stopped:  # a run stopped by a person is not news
        pairs = [
            (e.step_key or "?", root_message(e.step_failure_data.error))
            for e in result.all_events
            if e.event_type == DagsterEventType.STEP_FAILURE
        ]
        announce_failure(settings, started_by, result.run_id, pairs, as_of.isoformat())
    return RunOutcome(success, main_run, streams, failures, watch.causes, stopped, status)


def summary_lines(outcome: RunOutcome) -> list[str]:
    """One line per stream: rows landed, HTTP requests made, seconds."""
    width = max((len(s.asset) for s in outcome.streams), default=10)
    lines = [
        f"{s.asset.ljust(width)}  {s.rows:>8,} rows  {s.requests:>5} requests  {s.seconds:>6.1f}s  "
        f"{s.window}"
        for s in outcome.streams
    ]
    if outcome.failures:
        lines.append(f"failed: {', '.join(f.replace('__', '/', 1) for f in outcome.failures)}")
    for cause, steps in outcome.causes.items():
        lines.append(f"cause ({len(steps)} step{'s' if len(steps) > 1 else ''}): {cause}")
    if outcome.stopped:
        lines.append(f"stopped: {outcome.stopped}")
    return lines
