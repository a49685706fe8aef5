"""The warehouse's files in words: disk full, permission denied, a program holding the file.

One message per root cause, with what to do, said once for the whole run; and the free-space check
before a full copy of the warehouse is written (a publish).
"""

from __future__ import annotations

import errno
import getpass
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

PUBLISHED_FILE = "analytics.duckdb"  # the analysts' copy, beside the warehouse
# a publish needs room for a whole copy of the warehouse, plus this much for DuckDB's own writes
FREE_SPACE_MARGIN = 64 * 1024 * 1024
LOCK_HOLDER = re.compile(
    r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)"
)  # DuckDB's words


class StorageError(RuntimeError):
    """The warehouse's folder cannot be written: disk full, permission denied, a lock held.

    The message says it in words, with what to do, once for the whole run."""


def storage_problem(err: BaseException, path: str | Path) -> str | None:
    """A root cause in words for an OS or DuckDB error about the warehouse's files, else None."""
    text = str(err)
    code = getattr(err, "errno", None)
    folder = Path(path).parent
    if code == errno.ENOSPC or "No space left on device" in text:
        return (
            f"disk full: no space left in {folder}; free some space (the sync needs about twice "
            "the warehouse's size), then run `kpi sync` again"
        )
    if code == errno.EFBIG or "File too large" in text:
        return (
            f"a file size limit stops writing in {folder} (ulimit -f); "
            "raise it, then run `kpi sync` again"
        )
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return (
            f"permission denied writing in {folder}; make the folder and its files writable by "
            f"the user running kpi ({_user()})"
        )
    if code == errno.EROFS or "Read-only file system" in text:
        return (
            f"{folder} is on a read-only file system; "
            "point `warehouse:` in kpi.yaml at a writable folder"
        )
    holder = LOCK_HOLDER.search(text)
    if holder:
        return lock_message(path, holder["program"], holder["pid"])
    return None


def lock_message(path: str | Path, program: str, pid: str) -> str:
    name = Path(path).name
    return (
        f"{name} is open in another program ({Path(program).name}, PID {pid}), so the sync cannot "
        f"write it; close that program. Analysts should open the published copy, {PUBLISHED_FILE}, "
        "which a sync never locks"
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is no reason to fail
        return f"uid {os.getuid()}"


def check_free_space(folder: Path, size: int, usage: Callable[[Path], Any] | None = None) -> None:
    """Refuse to start a copy of ``size`` bytes that would fill the disk (:class:`StorageError`)."""
    free = (usage or shutil.disk_usage)(folder).free
    if free < size + FREE_SPACE_MARGIN:
        raise StorageError(
            f"disk full: {free / 1e6:.0f} MB free in {folder}, but publishing needs about "
            f"{(size + FREE_SPACE_MARGIN) / 1e6:.0f} MB (a full copy of the warehouse); free some "
            "space, then run `kpi sync` again"
        )
