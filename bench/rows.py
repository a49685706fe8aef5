"""The table bench/run.py builds: one row per figure, with its baseline, ratio and goal."""

from __future__ import annotations

import sys

from bench import sources

QUICK = "--quick" in sys.argv
LATENCY = (
    sources.LATENCY
)  # seconds: a typical round trip to a platform's API from a small business's server
ROWS: list[tuple[str, str, str, str, str]] = []  # (what, ours, baseline, ratio, goal)
NOTES: list[str] = []


def row(what: str, ours: str, baseline: str, ratio: float | str, goal: str) -> None:
    ROWS.append((what, ours, baseline, ratio if isinstance(ratio, str) else f"{ratio:.2f}x", goal))
    print(f"{what}: {ours} | {baseline} | {ROWS[-1][3]} | {goal}", flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"
