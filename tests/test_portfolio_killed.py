"""A business's process killed in a portfolio sync is a failure, named with its signal.

One tiny business (the CSV only) synced as a portfolio by a real `kpi` process; its own
process is killed with SIGKILL once it prints its first line. Waits are on events (a line, a
process exit) with a bound that only catches a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from kpi_pipeline.cli.portfolio import exit_words, worst
from tests.conftest import AS_OF

HANG = 240  # seconds: only a hang takes this long


def test_any_exit_but_ok_and_bad_input_is_a_failure_named_with_its_signal():
    assert worst([0, 2, 0]) == 2 and worst([2, 1]) == 1 and worst([0, 0]) == 0
    for code in (
        -9,
        -15,
        124,
        137,
        143,
        3,
    ):  # killed, timed out, killed in a shell or container, a crash
        assert worst([0, code]) == 1 and worst([2, code]) == 1, code
    assert exit_words(-9) == "FAILED (killed by SIGKILL)"
    assert exit_words(137) == "FAILED (exit 137: killed by SIGKILL)"
    assert exit_words(143) == "FAILED (exit 143: killed by SIGTERM)"
    assert exit_words(124) == "FAILED (exit 124: timed out)"


def _children(pid: int) -> list[int]:
    """The processes ``pid``'s threads started (a portfolio starts one per business from a pool
    thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(p) for p in (task / "children").read_text().split()]
    return out


def test_a_business_killed_by_sigkill_fails_the_portfolio_sync(tmp_path):
    folder = tmp_path / "businesses" / "tiny"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("date,kpi_id,value\n2026-11-02,staff_sick_days,2\n")
    (folder / "kpi.yaml").write_text(
        "business: Tiny Shop\nhistory_start: 2026-10-01\n"
        "sources:\n  manual: {path: metrics.csv}\n"
        "custom_kpis:\n  - {id: staff_sick_days, label: Sick days, domain: hr}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPI_", "DAGSTER_"))}
    env.update(KPI_PERSON_SALT="portfolio-killed-salt", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kpi_pipeline.cli", "sync", "--as-of", AS_OF.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(
            "[tiny]"
        ):  # the business's own process runs: kill it as the OOM killer would
            (child,) = _children(proc.pid)
            os.kill(child, signal.SIGKILL)
            break
    rest, _ = proc.communicate(timeout=HANG)
    out = "".join(lines) + rest
    assert proc.returncode == 1, out
    assert "tiny: FAILED (killed by SIGKILL)" in out
