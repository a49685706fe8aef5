"""`kpi sync` in child processes on a small demo business, for test_recovery.py,
test_storage_problems.py, test_crash.py and test_portfolio.py.

A helper module, not a test module, so no test file imports another.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import AS_OF

KPI = [sys.executable, "-m", "kpi_pipeline.cli"]
HANG = 240  # seconds: only a hang takes this long


def small_setup(folder: Path) -> Path:
    """A demo business of Stripe and the CSV in ``folder``; its kpi.yaml."""
    (folder / "metrics.csv").write_text("date,kpi_id,value\n2026-11-02,staff_sick_days,2\n")
    path = folder / "kpi.yaml"
    path.write_text(
        "business: Crash Test\nhistory_start: 2026-10-01\ndemo: true\n"
        "sources:\n  stripe: {}\n  manual: {path: metrics.csv}\n"
        "custom_kpis:\n  - {id: staff_sick_days, label: Sick days, domain: hr}\n"
    )
    return path


def environment(folder: Path) -> dict[str, str]:
    """This environment without KPI_/DAGSTER_ settings, DAGSTER_HOME in ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(folder / ".dagster"),
        KPI_PERSON_SALT="recovery-tests-salt",
        PYTHONUNBUFFERED="1",
    )
    return env


def default_signals() -> None:
    signal.signal(
        signal.SIGINT, signal.SIG_DFL
    )  # a worker may ignore Ctrl-C; the sync it starts must not


def start_sync(config: Path, *extra: str, preexec=default_signals) -> subprocess.Popen:
    """`kpi sync` as a child process, its output on a pipe."""
    return subprocess.Popen(
        [*KPI, "sync", "--config", str(config), "--as-of", AS_OF.isoformat(), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(config.parent),
        cwd=config.parent,
        preexec_fn=preexec,
    )


def read_until(proc: subprocess.Popen, needle: str) -> list[str]:
    """Lines up to and including the first containing ``needle``
    (fails if the process ends first)."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never appeared:\n{''.join(lines)}")


def sync(config: Path, *extra: str) -> tuple[int, str]:
    """`kpi sync` as a child process to its end: (exit code, output)."""
    done = subprocess.run(
        [*KPI, "sync", "--config", str(config), "--as-of", AS_OF.isoformat(), *extra],
        capture_output=True,
        text=True,
        env=environment(config.parent),
        cwd=config.parent,
        timeout=HANG,
    )
    return done.returncode, done.stdout + done.stderr


def synced_small_setup(folder: Path) -> Path:
    """The small setup in ``folder`` after one sync (a module's template; each test gets a copy)."""
    config = small_setup(folder)
    code, out = sync(config)
    assert code == 0, out
    return folder


def synced_copy(template: Path, tmp_path: Path, monkeypatch) -> Path:
    """A copy of a synced small setup in ``tmp_path``, the environment pointing at it;
    its kpi.yaml."""
    folder = tmp_path / "business"
    shutil.copytree(template, folder)
    for key, value in environment(folder).items():
        if key in ("DAGSTER_HOME", "KPI_PERSON_SALT"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("KPI_WAREHOUSE", raising=False)
    monkeypatch.delenv("KPI_AS_OF", raising=False)
    return folder / "kpi.yaml"


def event(run, kind, at: float | None = None):
    """A Dagster event of ``kind`` for ``run`` (a run start written by hand)."""
    import dagster as dg  # late: as before, importing this helper module does not load Dagster

    event = dg.DagsterEvent(kind.value, job_name=run.job_name)
    return dg.EventLogEntry(
        error_info=None,
        level="debug",
        user_message="",
        run_id=run.run_id,
        timestamp=at or time.time(),
        dagster_event=event,
    )
