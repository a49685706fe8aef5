"""A disk that fills during a sync: one line naming the disk and the fix, and the run marked failed.

Dagster's own storage (SQLite in DAGSTER_HOME) and the warehouse usually share a disk. When it
fills, the error surfaces anywhere (an OSError, SQLite's "disk I/O error", DuckDB's "No space
left"), deep in Dagster's or SQLAlchemy's stack, and even reading Dagster's storage fails. A small
reserve file in DAGSTER_HOME, made while there is room, is given up then so that the run can still
be marked failed instead of staying STARTED.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg

RESERVE = ".kpi-space-reserve"  # in DAGSTER_HOME: freed to record a run's failure on a full disk
RESERVE_BYTES = 2 * 1024 * 1024
LOW = (
    64 * 1024 * 1024
)  # below this much free, an I/O error of the disk's files is taken for a full disk
_FULL = ("no space left on device", "database or disk is full", "disk is full", "out of space")
_IO = ("disk i/o error",)


def keep_reserve(home: str | Path) -> None:
    """Make the reserve file in DAGSTER_HOME if it is missing and there is room (else nothing)."""
    path = Path(home) / RESERVE
    if path.exists():
        return
    with contextlib.suppress(OSError):
        if shutil.disk_usage(home).free > LOW + RESERVE_BYTES:
            with open(path, "wb") as out:
                out.write(b"\0" * RESERVE_BYTES)
                out.flush()
                os.fsync(out.fileno())


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [
            e.__cause__,
            e.__context__,
            getattr(e, "orig", None),
            getattr(e, "user_exception", None),
        ]


def disk_of(folder: Path) -> Path:
    """The mount point of the disk holding ``folder``."""
    path = Path(os.path.abspath(folder))
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def full_disk_message(err: BaseException, folders: Iterable[Path]) -> str | None:
    """One line for an error that a full disk caused anywhere in a sync, else None."""
    texts = [str(e).lower() for e in _chain(err)]
    codes = {getattr(e, "errno", None) for e in _chain(err)}
    full = bool(codes & {errno.ENOSPC, errno.EDQUOT}) or any(w in t for t in texts for w in _FULL)
    io = any(w in t for t in texts for w in _IO)
    if not (full or io):
        return None
    free = {}
    for folder in folders:
        with contextlib.suppress(OSError):
            free[Path(folder)] = shutil.disk_usage(disk_of(Path(folder))).free
    if not free:
        return None
    fullest = min(free, key=free.__getitem__)
    if not full and free[fullest] >= LOW:
        return None  # an I/O error on a disk with room: not ours to explain
    mount = disk_of(fullest)
    held = ", ".join(
        dict.fromkeys(str(f) for f in free if disk_of(f) == mount)
    )  # in the order given
    return (
        f"disk full: no space left on the disk mounted at {mount} (it holds {held}); free some "
        "space there, then run `kpi sync` again"
    )


def fail_run(home: str | Path, run_id: str, why: str) -> None:
    """Mark ``run_id`` failed if it is unfinished, giving up the reserve first; quietly best-effort:
    if even that cannot be written, the next `kpi sync` marks it failed (its process is gone)."""
    with contextlib.suppress(OSError):
        (Path(home) / RESERVE).unlink()
    with contextlib.suppress(Exception), dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in (
            dg.DagsterRunStatus.STARTED,
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.QUEUED,
        ):
            instance.report_run_failed(run, why)
