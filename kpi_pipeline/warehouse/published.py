"""The analysts' published copy on disk: durable replacement, and an analyst's writes kept aside.

The published copy (``analytics.duckdb``) is read-only for analysts. When one writes to it anyway,
DuckDB leaves their unsaved writes in ``analytics.duckdb.wal`` beside it (the process ended before
a checkpoint). That log belongs to that file only: once a publish renames a new file over it, nobody
can open the new file ("WAL checkpoint iteration does not match"). So before the rename the
analyst's file and its log are moved aside together, under a name that still opens with their
writes, and the caller says where. An analyst who wrote and closed cleanly leaves no log, only a
file that changed since it was published (its size, modification time or inode differ from what the
publish recorded in ``.<name>.published``): that file is kept aside the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path

import duckdb

from kpi_pipeline.warehouse.analyst_file import write_analyst_copy
from kpi_pipeline.warehouse.faults import fault_point
from kpi_pipeline.warehouse.storage import (
    LOCK_HOLDER,
    StorageError,
    check_free_space,
    storage_problem,
)

ANALYST_SUFFIX = ".analyst-"  # analytics.duckdb.analyst-20261207T151500Z (+ .wal)


class PublishedInUse(RuntimeError):
    """Another program holds the published copy open for writing; the message names it."""


def wal_of(path: Path) -> Path:
    """DuckDB's write-ahead log of ``path``: the same name plus ``.wal``."""
    return path.with_name(path.name + ".wal")


def published_problem(path: Path) -> str | None:
    """Why the published copy cannot be read as it stands (a stale log beside it, or it does not
    open), else None. Nothing is written: DuckDB replays a log read-only in memory."""
    if wal_of(path).exists():
        return (
            f"{wal_of(path).name} lies beside the published copy: an analyst wrote to {path.name} "
            "(it is read-only for analysts); `kpi doctor --repair` keeps their writes aside and "
            "publishes it again"
        )
    if not path.exists():
        return None
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as err:
        if LOCK_HOLDER.search(str(err)):
            # held open for writing: said by the publish that meets it, which waits for nobody
            return None
        return (
            f"the published copy {path} does not open ({str(err).splitlines()[0]}); "
            "`kpi doctor --repair` publishes it again"
        )
    return None


def replace_published(
    source: str | Path, target: Path, say: Callable[[str], None] | None = None
) -> Path:
    """Replace ``target`` (the analysts' copy) atomically and durably with a copy of ``source`` (the
    warehouse, checkpointed, which the caller keeps anyone from writing meanwhile).

    The copy is written to a temp file beside it in the storage version analysts' DuckDB reads, with
    the views and comments (:mod:`kpi_pipeline.warehouse.analyst_file`), flushed to the disk and
    renamed over it, and the rename flushed; an analyst holding the old file open keeps reading
    the old, complete state. An analyst's unsaved writes left beside it (``<target>.wal``) are
    moved aside with the file they belong to, and ``say`` tells where.

    Raises:
        StorageError: no room for the copy, a program holding ``target`` open for writing, or
            another error writing it, in words; no temp file is left behind.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    check_free_space(target.parent, os.path.getsize(source))
    try:
        # in the storage version analysts' DuckDB reads, with the views and comments
        write_analyst_copy(source, tmp, halfway=lambda: fault_point("publish:during_copy"))
        fault_point("publish:before_rename")
        kept = keep_analyst_writes(target)
        record_published(target, coming=tmp)
        os.replace(tmp, target)
        sync_folder(target.parent)
        record_published(target)
    except PublishedInUse as err:
        tmp.unlink(missing_ok=True)
        raise StorageError(str(err)) from None
    except (OSError, duckdb.Error) as err:
        tmp.unlink(missing_ok=True)  # never leave a partial copy filling the disk
        wal_of(tmp).unlink(missing_ok=True)
        why = err.strerror if isinstance(err, OSError) else str(err).splitlines()[0]
        raise StorageError(
            storage_problem(err, target) or f"publishing {target.name} failed: {why or err}"
        ) from None
    if kept is not None and say is not None:
        log = f" (with {kept.name}.wal)" if wal_of(kept).exists() else ""
        say(
            f"an analyst had written to {target.name} (it is read-only for analysts): kept their "
            f"file in {kept}{log}; it opens with their tables; then published a new {target.name}; "
            "see the README, "
            f'"Your own tables"'
        )
    return target


def fingerprint_of(path: Path) -> Path:
    """Where a publish records what the file it renamed into place looked like."""
    return path.with_name(f".{path.name}.published")


def _stat_key(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def record_published(target: Path, coming: Path | None = None) -> None:
    """Record ``target`` as published, so the next publish can tell whether anyone wrote to it (a
    clean close leaves no ``.wal``, only a changed file). Called with ``coming`` (the copy about to
    be renamed over it) before the rename, both are recorded: a publish killed between the two
    leaves either file, and neither is taken for an analyst's; called again after the rename."""
    stats = [_stat_key(f) for f in (target, coming) if f is not None and f.exists()]
    mark = fingerprint_of(target)
    tmp = mark.with_name(mark.name + ".tmp")
    tmp.write_text(json.dumps({"file": target.name, "stats": stats}))
    os.replace(tmp, mark)


def written_since_published(target: Path) -> bool:
    """Whether ``target`` changed after the publish that put it there (False when that publish
    recorded nothing, as before this check existed, or the record is unreadable)."""
    mark = fingerprint_of(target)
    if not target.exists() or not mark.exists():
        return False
    try:
        recorded = [list(s) for s in json.loads(mark.read_text())["stats"]]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return _stat_key(target) not in recorded


def keep_analyst_writes(target: Path, now: dt.datetime | None = None) -> Path | None:
    """If an analyst wrote to ``target`` (their unsaved writes in its ``.wal``, or a file changed
    since it was published), move the file and any log aside together as
    ``<name>.analyst-<UTC time>`` (+ ``.wal``), which opens with their writes; the new name, else
    None.

    Raises:
        PublishedInUse: a program still holds ``target`` open for writing (moving its files
            would leave its later writes beside the next copy); the message names the program.
    """
    wal = wal_of(target)
    if not wal.exists() and not written_since_published(target):
        return None
    if target.exists():
        try:  # a live writer holds DuckDB's lock; a dead one (the usual case) left only the log
            duckdb.connect(str(target), read_only=True).close()
        except duckdb.Error as err:
            holder = LOCK_HOLDER.search(str(err))
            if holder:
                raise PublishedInUse(
                    f"{target.name} is open for writing in {Path(holder['program']).name} (PID "
                    f"{holder['pid']}); the published copy is read-only for analysts (open it with "
                    "`duckdb -readonly`): close that program, then run `kpi sync` again; "
                    "nothing was published"
                ) from None
            # any other error (a log that no longer matches its file): the files are still theirs
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    kept = target.with_name(f"{target.name}{ANALYST_SUFFIX}{stamp}")
    n = 1
    while kept.exists() or wal_of(kept).exists():
        n += 1
        kept = target.with_name(f"{target.name}{ANALYST_SUFFIX}{stamp}-{n}")
    if target.exists():
        os.replace(target, kept)
    if wal.exists():
        os.replace(
            wal, wal_of(kept)
        )  # the log last: until then the pair stays together under one name
    sync_folder(target.parent)
    return kept


def sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename into it) to the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
