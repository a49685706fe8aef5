"""Before a sync, and in ``kpi doctor``: what would stop a run, said once, in words.

:func:`preflight` repairs what is safe to repair (runs whose process is gone, their pool
slots, temp files of a killed publish) and refuses to start when the warehouse cannot be
written: disk full, folder not writable, the file held open by another program.
:func:`diagnose` shows the same state and repairs it with ``--repair``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from contextlib import nullcontext

import dagster as dg
import duckdb
from filelock import Timeout

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.orchestration.instance_setup import ensure_instance
from kpi_pipeline.orchestration.instance_state import debris, remove_debris, repair, unfinished_runs
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.published import published_problem
from kpi_pipeline.warehouse.storage import (
    FREE_SPACE_MARGIN,
    StorageError,
    check_free_space,
    storage_problem,
)

Say = Callable[[str], None]


def preflight(
    settings: Settings, say: Say, instance: dg.DagsterInstance | None = None
) -> str | None:
    """Repair the instance and the data folder; the reason a sync cannot start, else None.
    ``instance``: the one the run will use (else one of its own, from DAGSTER_HOME)."""
    ensure_instance(settings)
    _repair(settings, say, instance=instance)
    return warehouse_problem(settings, say)


def _repair(
    settings: Settings,
    say: Say,
    force: tuple[str, ...] = (),
    instance: dg.DagsterInstance | None = None,
) -> None:
    """Fail dead runs, free their pool slots, remove a killed publish's temp files; say each."""
    with nullcontext(instance) if instance is not None else dg.DagsterInstance.get() as opened:
        for line in repair(opened, force=force):
            say(f"  repaired: {line}")
    for line in remove_debris(settings):
        say(f"  cleaned: {line}")


def warehouse_problem(settings: Settings, say: Say, wait: float | None = None) -> str | None:
    """Disk full, folder not writable, or the file held by another program
    (after a bounded wait)."""
    path = settings.warehouse_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".kpi-write-probe.{os.getpid()}.tmp"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as err:
        return storage_problem(err, path) or f"cannot write in {path.parent}: {err.strerror or err}"
    if not path.exists():
        return None
    try:
        check_free_space(path.parent, path.stat().st_size)
    except StorageError as err:
        return str(err)
    wh = Warehouse(path, settings.business_id, open_wait=wait)
    assert wh.lock is not None
    try:
        wh.lock.acquire(timeout=0)
    except Timeout:
        return (
            None  # another kpi run is writing: the run waits for it through the pool, and says so
        )
    try:
        try:
            duckdb.connect(str(path)).close()
            return None
        except duckdb.IOException as err:
            held = storage_problem(err, path)
            if held is None:
                raise
            if wh.open_wait <= 0:
                return held
            say(f"  waiting up to {wh.open_wait:.0f}s: {held}")
        try:
            wh.connect().close()
        except StorageError as err:
            return str(err)
        return None
    finally:
        wh.lock.release()


def diagnose(
    settings: Settings, say: Say, *, repair_all: bool = False, force: tuple[str, ...] = ()
) -> list[str]:
    """Print the instance's and the data folder's state; the problems that remain."""
    home = ensure_instance(settings)
    say(f"DAGSTER_HOME: {home}")
    if repair_all:
        _repair(settings, say, force)
    problems: list[str] = []
    with dg.DagsterInstance.get() as instance:
        runs = unfinished_runs(instance)
        infos = {
            pool: instance.event_log_storage.get_concurrency_info(pool) for pool in settings.pools()
        }
    say(f"runs: {len(runs)} unfinished" if runs else "runs: none unfinished")
    for state in runs:
        say(f"  {state.describe()}")
        if (state.alive is None or (state.alive and state.host)) and state.slots:
            # a daemon's run, or one on another host heard of lately: running,
            # or dead where this host cannot see
            say(
                f"    if its process is gone: `kpi doctor --repair --run {state.run_id[:8]}` fails "
                "it and frees its slot"
                + (
                    " (a sync does so by itself once the host is silent for KPI_RUN_DEAD_AFTER)"
                    if state.host
                    else ""
                )
            )
        if state.alive is False:
            problems.append(
                f"{state.describe()}: {state.why} (`kpi doctor --repair` fails it and frees "
                "its slot)"
            )
    holders: list[str] = []
    for (
        pool,
        info,
    ) in infos.items():  # this business's writer pool, and in a portfolio its platforms'
        held = sorted({s.run_id[:8] for s in info.claimed_slots})
        holders += [h for h in held if pool == settings.writer_pool]
        say(
            f"pool {pool}: limit {info.slot_count}, "
            + (f"held by run {', '.join(held)}" if held else "free")
            + (f", {info.pending_step_count} step(s) waiting" if info.pending_step_count else "")
        )
    left = debris(settings)
    say(
        "leftover temp files: "
        + (
            ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in left)
            if left
            else "none"
        )
    )
    problems += [
        f"{p} is left from a publish that did not finish (`kpi doctor --repair` removes it)"
        for p in left
    ]
    path = settings.warehouse_path
    if path.exists():
        size = path.stat().st_size
        say(f"warehouse: {path} ({size / 1e6:.1f} MB)")
        free = shutil.disk_usage(path.parent).free
        say(
            f"disk: {free / 1e6:,.0f} MB free in {path.parent} (a sync needs about "
            f"{(size + FREE_SPACE_MARGIN) / 1e6:,.0f} MB)"
        )
        locked = warehouse_problem(settings, lambda _line: None, wait=0) if not holders else None
        if locked:
            say(f"  {locked}")
            problems.append(locked)
    else:
        say(f"warehouse: {path} does not exist yet (`kpi sync` makes it)")
    problems += _published_copy(settings, say, repair_all)
    say("ok: nothing to repair" if not problems else f"{len(problems)} problem(s):")
    for problem in problems:
        say(f"  - {problem}")
    return problems


def _published_copy(settings: Settings, say: Say, repair_all: bool) -> list[str]:
    """Show the published copy; a stale log beside it or a copy that does not open is a problem,
    which ``--repair`` mends by publishing again (an analyst's writes kept aside, and said)."""
    published = settings.published_path
    problem = published_problem(published)
    if problem and repair_all and settings.warehouse_path.exists():
        try:  # a running sync holds the lock: wait a little, not its whole run
            Warehouse(settings.warehouse_path, settings.business_id, lock_timeout=30).publish(
                published, say=lambda line: say(f"  kept: {line}")
            )
            say(f"  repaired: published {published.name} again")
        except (StorageError, RuntimeError) as err:
            say(f"  could not publish again: {err}")
        problem = published_problem(published)
    if published.exists():
        when = dt.datetime.fromtimestamp(published.stat().st_mtime)
        say(f"published copy: {published}, written {when:%Y-%m-%d %H:%M}")
    if problem:
        say(f"  {problem}")
    return [problem] if problem else []
