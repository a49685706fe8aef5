"""What the benchmarks share: commands timed in their own process (wall seconds and peak memory),
the sandbox served from a process of its own (as a platform is remote), kpi.yaml files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 15)  # the sandbox world's last complete day in the live setups
DEMO_TODAY = dt.date(2026, 12, 1)  # `kpi demo` runs through the day before


@dataclasses.dataclass
class Timed:
    seconds: float
    peak_mb: float
    output: str
    code: int
    cpu: float = 0.0  # the process's CPU seconds (user + system)


def timed(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Timed:
    """Run a command; its wall time and peak resident memory (its own process, from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Timed(
        seconds, usage.ru_maxrss / 1024, output, proc.returncode, usage.ru_utime + usage.ru_stime
    )


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def kpi(*args: str) -> list[str]:
    return python("-m", "kpi_pipeline.cli", *args)


def base_env(home: Path, today: dt.date) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DAGSTER_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DAGSTER_HOME": str(home),
            "KPI_TODAY": today.isoformat(),
            "KPI_CACHE_DIR": str(home.parent / ".cache"),
        }
    )
    return env


def demo_folder(folder: Path, history_start: dt.date) -> Path:
    """The shipped demo kpi.yaml with another history_start, in a folder of its own."""
    folder.mkdir(parents=True)
    (folder / "data").mkdir()
    shutil.copy(ROOT / "data" / "manual_metrics.csv", folder / "data" / "manual_metrics.csv")
    text = re.sub(
        r"^history_start: \S+",
        f"history_start: {history_start}",
        (ROOT / "kpi.yaml").read_text(),
        flags=re.MULTILINE,
    )
    (folder / "kpi.yaml").write_text(text)
    return folder / "kpi.yaml"


class RemoteSandbox:
    """The sandbox in a process of its own (bench/serve_sandbox.py): the pipeline's process then
    pays only for being a client, as with the real platforms."""

    def __init__(self, as_of: dt.date = AS_OF, audience: int = 0, latency: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            python(
                str(ROOT / "bench" / "serve_sandbox.py"),
                as_of.isoformat(),
                str(audience),
                str(latency),
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.urls: dict[str, str] = info["urls"]
        self.ga4 = SimpleNamespace(credentials_file=info["ga4_credentials"])
        self._settings: dict[str, dict[str, Any]] = info["settings"]

    def settings_for(self, source: str) -> dict[str, Any]:
        """Connector settings that reach the sandbox (as ``Sandbox.settings_for``)."""
        return self._settings[source]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def live_env(sandbox: Any, home: Path, today: dt.date) -> dict[str, str]:
    """Credentials in the environment as an operator sets them (tests.conftest.live_environment)."""
    import pytest

    from tests.conftest import live_environment

    with pytest.MonkeyPatch.context() as mp:
        live_environment(mp, sandbox, home.parent)
        env = dict(os.environ)
    env.update(base_env(home, today))
    return env


def live_folder(
    folder: Path, sandbox: Any, history_start: dt.date, sources: list[str] | None = None
) -> Path:
    from connectors.registry import platforms
    from tests.conftest import subset_config

    folder.mkdir(parents=True, exist_ok=True)
    return subset_config(folder, sandbox, sources or list(platforms()), history_start)


STREAM_LINE = re.compile(
    r"^(raw/\S+)\s+([\d,]+) rows\s+(\d+) requests\s+([\d.]+)s\s+(.*)$", re.MULTILINE
)


def stream_lines(output: str) -> list[tuple[str, int, int, float, str]]:
    """The end-of-sync summary: (stream, rows, requests, seconds, window) per stream."""
    return [
        (m[1], int(m[2].replace(",", "")), int(m[3]), float(m[4]), m[5].strip())
        for m in STREAM_LINE.finditer(output)
    ]
