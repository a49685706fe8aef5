"""The nightly run of a one-, two- and nine-source business against platforms answering in 150 ms.

Each business has a year of history, loaded first by one `kpi sync --start` against the sandbox
answering at once (untimed: only the night is measured); then `kpi sync` for as-of runs NIGHTS
times against the same sandbox world answering every request 150 ms late, as a real platform's
round trip does. Its wall time (the whole process: imports, Dagster, every step) is set against
the seconds its own streams took in the same run (the end-of-sync summary), and the steps the
run planned are counted from its progress lines.

`python bench/sources.py [--setups one,two,nine] [--nights 3]` measures and puts its section into
bench/RESULTS.md; `make bench` runs it too.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import AS_OF, RemoteSandbox, kpi, live_env, live_folder, stream_lines, timed  # noqa: E402
from bench.portfolio import arg, record  # noqa: E402

BEGIN, END = "<!-- sources -->", "<!-- /sources -->"
LATENCY = 0.15  # seconds: a typical round trip to a platform's API from a small business's server
NIGHTS = 3
HISTORY_DAYS = 365
GOAL = {
    "one": 2.0
}  # the one-source night: at most 2x its streams (issue 23 §5); the others recorded
SETUPS = {
    "one": ["mailchimp"],
    "two": ["mailchimp", "stripe"],
    "nine": [
        "mailchimp",
        "ga4",
        "meta_ads",
        "google_ads",
        "instagram",
        "stripe",
        "calendly",
        "hubspot",
        "manual",
    ],
}
STEP_LINE = re.compile(r"^  > (\S+)\s+\((\d+)/(\d+), (\d+)s\)", re.MULTILINE)


@dataclass
class Night:
    setup: str
    sources: list[str]
    wall: float  # median of the nights
    streams: float  # median of the nights' sums of stream seconds
    steps: int
    walls: list[float]
    cpu: float  # median of the nights' CPU seconds (the process's own: user + system)

    @property
    def ratio(self) -> float:
        return self.wall / self.streams


def steps_planned(output: str) -> int:
    """The steps a `kpi sync` planned, from its progress lines ("  > name  (5/29, 3s)")."""
    found = STEP_LINE.findall(output)
    return int(found[0][2]) if found else 0


def measure(
    tmp: Path, setups: list[str], nights: int = NIGHTS, latency: float = LATENCY
) -> list[Night]:
    start = AS_OF - dt.timedelta(days=HISTORY_DAYS)
    out = []
    with (
        RemoteSandbox() as fast,
        RemoteSandbox(latency=latency) as slow,
    ):  # the same world, seed and as-of
        for setup in setups:
            sources = SETUPS[setup]
            folder = tmp / f"sources_{setup}"
            home = folder / ".dagster"
            config = live_folder(folder, fast, start, sources)
            first = timed(
                kpi(
                    "sync",
                    "--config",
                    str(config),
                    "--as-of",
                    str(AS_OF - dt.timedelta(days=1)),
                    "--start",
                    str(start),
                ),
                env=live_env(fast, home, AS_OF + dt.timedelta(days=1)),
                cwd=folder,
            )
            assert first.code == 0, first.output[-3000:]
            live_folder(
                folder, slow, start, sources
            )  # the same kpi.yaml, the late platforms' addresses
            env = live_env(slow, home, AS_OF + dt.timedelta(days=1))
            runs = [
                timed(
                    kpi("sync", "--config", str(config), "--as-of", str(AS_OF)), env=env, cwd=folder
                )
                for _ in range(nights)
            ]
            for run in runs:
                assert run.code == 0, run.output[-3000:]
            night = Night(
                setup,
                sources,
                statistics.median(r.seconds for r in runs),
                statistics.median(sum(s[3] for s in stream_lines(r.output)) for r in runs),
                steps_planned(runs[-1].output),
                [r.seconds for r in runs],
                statistics.median(r.cpu for r in runs),
            )
            print(
                f"{setup} ({'+'.join(sources)}): {night.wall:.1f}s, streams {night.streams:.1f}s, "
                f"{night.ratio:.2f}x, {night.steps} steps, CPU {night.cpu:.1f}s; nights "
                f"{', '.join(f'{w:.1f}s' for w in night.walls)}",
                flush=True,
            )
            out.append(night)
    return out


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def section(nights: list[Night], load: tuple[float, float], note: str = "") -> str:
    """The rows of RESULTS.md for the nights measured."""
    lines = [
        BEGIN,
        "## The nightly run by the sources a business has",
        "",
        f"Measured {dt.date.today()} by `python bench/sources.py` on {machine()}; load average "
        f"{load[0]:.1f} before and {load[1]:.1f} after (2 cores: above 2, other work shared the "
        "machine and the walls are longer than on a quiet one). A year of history; the night is "
        f"`kpi sync` against platforms answering every request in {LATENCY * 1000:.0f} ms, the "
        f"median of {len(nights[0].walls) if nights else NIGHTS} nights, set against its own "
        "streams' seconds in the same runs. The wall is the whole process: Python and Dagster's "
        "imports, the instance, every step. CPU is the process's own user and system seconds, what "
        "a busy machine stretches (the streams mostly wait for the platforms).",
        "",
        "| business | sources | steps | nightly | streams | ratio | CPU | goal |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for n in nights:
        goal = GOAL.get(n.setup)
        verdict = (
            f"at most {goal:.0f}x: {'met' if n.ratio <= goal else 'MISSED'}" if goal else "recorded"
        )
        lines.append(
            f"| {n.setup} source{'s' if len(n.sources) > 1 else ''} | {', '.join(n.sources)} | "
            f"{n.steps} | {n.wall:.1f}s | {n.streams:.1f}s | {n.ratio:.2f}x | {n.cpu:.1f}s | "
            f"{verdict} |"
        )
    if note:
        lines += ["", note]
    return "\n".join(lines + ["", END])


def measured_section(tmp: Path, setups: list[str], nights: int = NIGHTS) -> str:
    """Measure ``setups`` and return their section of RESULTS.md (the load average around it)."""
    before = os.getloadavg()[0]
    measured = measure(tmp, setups, nights)
    return section(measured, (before, os.getloadavg()[0]))


def main() -> None:
    import tempfile

    setups = arg("--setups")
    with tempfile.TemporaryDirectory(prefix="kpi-bench-sources-") as name:
        text = measured_section(
            Path(name),
            setups.split(",") if setups else list(SETUPS),
            int(arg("--nights") or NIGHTS),
        )
    record(text, begin=BEGIN, end=END)
    print(text)


if __name__ == "__main__":
    main()
