"""The processes running on this machine, for ending what a run left behind and for tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def processes() -> list[tuple[int, int, str]]:
    """Every process as (pid, parent pid, command line): from /proc where there is one (a slim
    container has no ``ps``), else from ``ps``; empty when neither can be read."""
    proc = Path("/proc")
    if proc.is_dir():
        found = []
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                args = (
                    (entry / "cmdline")
                    .read_bytes()
                    .replace(b"\0", b" ")
                    .decode(errors="replace")
                    .strip()
                )
            except OSError:  # ended while being read
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])  # after "pid (comm) state"
            found.append((int(entry.name), ppid, args))
        return found
    try:
        listing = subprocess.run(
            ["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return []
    rows = [line.split(None, 2) for line in listing.splitlines()]
    return [(int(r[0]), int(r[1]), r[2]) for r in rows if len(r) == 3]
