"""Helpers for tests that start servers and daemons as other processes: a free port, and a
wait for something to happen that fails at once when the process dies, and only after a bound
that catches a hang (never a slow machine)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    what: str, check: Callable[[], Any], process: subprocess.Popen, log: Path, bound: float
) -> Any:
    """Poll ``check`` each second until it returns something true, and return that."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert process.poll() is None, (
            f"{Path(process.args[0]).name} died:\n{log.read_text()[-3000:]}"
        )
        time.sleep(1)
    raise AssertionError(f"no {what} within {bound:.0f}s:\n{log.read_text()[-3000:]}")


def start_daemon(workspace: Path, cwd: Path, log: Path) -> subprocess.Popen:
    """dagster-daemon on ``workspace`` (the environment's DAGSTER_HOME), its output in ``log``."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)],
        cwd=cwd,
        env=dict(os.environ),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def launch_scheduled_night(
    defs: dg.Definitions, fire: Any, workspace: Path, location: str, cwd: Path, timeout: float
) -> None:
    """The nightly schedule's tick at ``fire``, submitted to the run queue as the scheduler does
    (``dagster job launch`` with the tick's tags): no race with a clock."""
    with dg.build_schedule_context(
        scheduled_execution_time=fire, repository_def=defs.get_repository_def()
    ) as context:
        request = defs.resolve_schedule_def("nightly_sync").evaluate_tick(context).run_requests[0]
    tags = {
        **request.tags,
        "dagster/partition": request.partition_key,
        "kpi/tick": fire.isoformat(),
    }
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "job",
            "launch",
            "-w",
            str(workspace),
            "-l",
            location,
            "-j",
            "nightly",
            "--tags",
            json.dumps(tags),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
    )
