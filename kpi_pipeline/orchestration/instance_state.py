"""The Dagster instance's and the data folder's state: dead runs, pool slots, debris.

A run started by ``kpi`` carries the tag ``kpi/pid`` (``<host>:<pid>:<process start>``). When
that process is gone (killed, power cut, OOM) the run stays ``STARTED`` and keeps its slot in
the pool ``duckdb``, which would block every later run. :func:`repair` marks such runs failed
and frees their slots with Dagster's own APIs; runs launched by the daemon are watched by
Dagster's run monitoring instead (``dagster.yaml``). ``kpi sync`` repairs before it starts;
``kpi doctor`` shows the state and repairs it on request.

A run on this host is dead when its pid is gone. A run on another host (a restarted container,
a CronJob's earlier pod, sharing DAGSTER_HOME or the Postgres storage) cannot be asked: its
process writes a heartbeat every :data:`HEARTBEAT_EVERY` seconds into the instance's key-value
store, and it is dead once nothing of it (heartbeat, event) was heard for ``KPI_RUN_DEAD_AFTER``
seconds (default :data:`DEAD_AFTER`, 10 minutes).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.orchestration.dagster_private import free_pool_slots

PID_TAG = "kpi/pid"
STARTED_BY_TAG = "kpi/started_by"
LAUNCHED_BY_TAG = (
    "user"  # the tag Dagster's UI shows as "Launched by" (instead of "Manually launched")
)
POOL = "duckdb"
UNFINISHED = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
HEARTBEAT_KEY = (
    "kpi/heartbeat/"  # + run id, in the run storage's key-value table (SQLite or Postgres)
)
HEARTBEAT_EVERY = 60.0  # seconds between a running sync's heartbeats
DEAD_AFTER = (
    600.0  # seconds without a heartbeat or event before a run on another host counts as dead
)
_TMP = re.compile(r"^\..+\.(?P<pid>\d+)\.tmp(\.wal)?$")  # (+ DuckDB's log of a copy it wrote)


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks (Linux), to tell a reused pid apart; '' elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def process_tag(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def tagged_process_alive(tag: str) -> bool | None:
    """Whether the process of a ``kpi/pid`` tag still runs; None when it ran on another host."""
    host, _, rest = tag.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    return pid_alive(pid) and (not ticks or _start_ticks(pid) in ("", ticks))


def dead_after() -> float:
    """The bound for runs on another host: env KPI_RUN_DEAD_AFTER (seconds), never below two
    heartbeats (a shorter bound would fail runs that live)."""
    try:
        bound = float(os.environ.get("KPI_RUN_DEAD_AFTER", DEAD_AFTER))
    except ValueError:
        bound = DEAD_AFTER
    return max(bound, 2 * HEARTBEAT_EVERY)


def heartbeat(instance: dg.DagsterInstance, run_id: str) -> None:
    """Say that ``run_id``'s process still runs (read by other hosts' :func:`unfinished_runs`)."""
    try:
        instance.run_storage.set_cursor_values({HEARTBEAT_KEY + run_id: f"{time.time():.0f}"})
    except Exception:  # noqa: BLE001 - a missed beat is harmless: the bound spans many beats
        pass


def last_heard(instance: dg.DagsterInstance, record: dg.RunRecord) -> float:
    """The latest sign of life of a run: its heartbeat, its last event,
    its start (else its creation)."""
    run_id = record.dagster_run.run_id
    times = [record.start_time or record.create_timestamp.timestamp()]
    beat = instance.run_storage.get_cursor_values({HEARTBEAT_KEY + run_id}).get(
        HEARTBEAT_KEY + run_id, ""
    )
    if beat.replace(".", "", 1).isdigit():
        times.append(float(beat))
    last = instance.get_records_for_run(run_id, ascending=False, limit=1).records
    if last:
        times.append(last[0].event_log_entry.timestamp)
    return max(times)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


@dataclass
class RunState:
    run_id: str
    status: str
    job: str
    started_by: str
    process: str
    alive: bool | None  # None: not started by kpi on this host, so unknown here
    slots: list[str] = field(default_factory=list)  # step keys holding a pool slot
    started: dt.datetime | None = None
    queued: bool = False  # has steps in a pool's queue
    pools: list[str] = field(default_factory=list)  # the pools it holds or waits for
    host: str = ""  # set for a kpi run on another host
    silent: float = 0.0  # seconds since a run on another host was last heard of

    def describe(self) -> str:
        when = f" since {self.started:%Y-%m-%d %H:%M}" if self.started else ""
        pid = self.process.split(":")[1] if self.process.count(":") >= 1 else "?"
        life = {True: f"pid {pid} running", False: f"pid {pid} gone", None: "process unknown"}[
            self.alive
        ]
        if self.host:
            life = (
                f"pid {pid} on host {self.host}, last heard {_ago(self.silent)} ago"
                if self.alive
                else f"pid {pid} on host {self.host}, silent for {_ago(self.silent)}, dead after "
                f"{_ago(dead_after())} (KPI_RUN_DEAD_AFTER)"
            )
        pools = ", ".join(self.pools) or POOL
        held = f", holds the {pools} pool slot ({', '.join(self.slots)})" if self.slots else ""
        held += f", queued for the {pools} pool" if self.queued and not self.slots else ""
        return (
            f"run {self.run_id[:8]} {self.status.lower()}{when} ({self.started_by}, {life}){held}"
        )

    @property
    def why(self) -> str:
        """Why the run counts as dead, in words."""
        if self.host:
            return f"its host {self.host} has not been heard of for {_ago(self.silent)}"
        return "its process is gone"


def unfinished_runs(instance: dg.DagsterInstance) -> list[RunState]:
    """Every run that has not ended, and every run (ended or not) still holding a pool slot."""
    holders: dict[str, list[str]] = {}
    waiting: set[str] = set()
    pools: dict[str, set[str]] = {}
    # every pool: a portfolio has one per business and one per platform
    for pool in sorted(instance.event_log_storage.get_concurrency_keys() | {POOL}):
        info = instance.event_log_storage.get_concurrency_info(pool)
        for slot in info.claimed_slots:
            holders.setdefault(slot.run_id, []).append(slot.step_key)
            pools.setdefault(slot.run_id, set()).add(pool)
        for (
            step
        ) in info.pending_steps:  # a dead run's queued step would stay first in line for ever
            waiting.add(step.run_id)
            pools.setdefault(step.run_id, set()).add(pool)
    records = list(instance.get_run_records(dg.RunsFilter(statuses=list(UNFINISHED))))
    seen = {r.dagster_run.run_id for r in records}
    extra = [rid for rid in {*holders, *waiting} if rid not in seen]
    if extra:
        records += list(instance.get_run_records(dg.RunsFilter(run_ids=extra)))
    out = []
    for record in records:
        run = record.dagster_run
        tag = run.tags.get(PID_TAG, "")
        ended = run.status not in UNFINISHED
        alive = False if ended else (tagged_process_alive(tag) if tag else None)
        host, silent = "", 0.0
        if alive is None and tag:  # a kpi run on another host: alive while it is heard of
            host = tag.partition(":")[0]
            silent = max(0.0, time.time() - last_heard(instance, record))
            alive = silent <= dead_after()
        out.append(
            RunState(
                run.run_id,
                run.status.value,
                run.job_name,
                run.tags.get(STARTED_BY_TAG, "dagster"),
                tag,
                alive,
                holders.get(run.run_id, []),
                dt.datetime.fromtimestamp(record.start_time) if record.start_time else None,
                run.run_id in waiting,
                sorted(pools.get(run.run_id, ())),
                host,
                silent,
            )
        )
    return out


def repair(
    instance: dg.DagsterInstance, *, own_run: str | None = None, force: tuple[str, ...] = ()
) -> list[str]:
    """Mark runs whose process is gone failed and free their slots (and slots of ended runs).

    ``force``: run ids (or their first characters) the operator knows are dead although this
    host cannot tell (a run the daemon launched, a run on another host heard of lately); a run
    of ``kpi`` on this host whose process lives is kept."""
    done = []
    for state in unfinished_runs(instance):
        forced = any(state.run_id.startswith(prefix) for prefix in force if len(prefix) >= 4)
        told = forced and (state.alive is None or bool(state.host))  # runs this host cannot ask
        if state.run_id == own_run or not (state.alive is False or told):
            continue
        run = instance.get_run_by_id(state.run_id)
        if run is not None and run.status in UNFINISHED:
            gone = (
                f"its host {state.host} has not been heard of for {state.silent:.0f}s "
                f"(KPI_RUN_DEAD_AFTER: {dead_after():.0f}s)"
                if state.host
                else f"the process running it ({state.process or 'unknown'}) is gone"
            )
            instance.report_run_failed(
                run, f"{gone}; marked failed by kpi so later runs are not blocked"
            )
            done.append(
                f"marked {state.describe()} failed: {state.why}"
                + (" (as told by --run)" if state.alive is None else "")
            )
        if state.slots or state.queued:
            free_pool_slots(instance, state.run_id)
            pools = ", ".join(state.pools) or POOL
            done.append(
                f"freed the {pools} pool slot held by run {state.run_id[:8]} "
                f"({', '.join(state.slots)})"
                if state.slots
                else f"removed run {state.run_id[:8]}'s steps from the {pools} pool's queue"
            )
    return done


def pool_holders(instance: dg.DagsterInstance, own_run: str | None = None) -> list[RunState]:
    return [s for s in unfinished_runs(instance) if (s.slots or s.queued) and s.run_id != own_run]


def debris(settings: Settings) -> list[Path]:
    """Temp files a killed publish or report left (``.<name>.<pid>.tmp`` of a dead pid)."""
    out = []
    for folder in (settings.warehouse_path.parent, settings.reports_dir):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = _TMP.match(path.name)
            if match and not pid_alive(int(match["pid"])):
                out.append(path)
    return out


def remove_debris(settings: Settings) -> list[str]:
    done = []
    for path in debris(settings):
        size = path.stat().st_size
        path.unlink(missing_ok=True)
        done.append(
            f"removed {path.name} ({size / 1e6:.1f} MB), left by a publish that did not finish"
        )
    return done
