"""A platform added as one folder syncs, scores and shows (issue 23 §2;
README "Adding a connector").

``tests/fixtures/connectors/toy/`` is a made-up platform: its declaration, a client with one
stream, an emulator serving seeded sales over real HTTP on 127.0.0.1, a staging model with its
checks and one KPI in its ``kpis.yml``. Nothing else in the repository names it: the registry
finds it through ``$KPI_CONNECTORS_PATH``. `kpi sync` (through Dagster, in a child process as an
operator runs it) loads it, the scorecard scores its KPI against a target, and `kpi report`
shows it; the values are checked against the toy's sales as the test computes them from the
emulator's rule, not from anything the pipeline made.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import duckdb

from connectors.registry import PATH_ENV, platforms
from connectors.sandbox.world import get_world
from tests.conftest import AS_OF
from tests.sync_processes import HANG, KPI, environment

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "connectors"
HISTORY_START = dt.date(2026, 10, 1)


def units_sold(first: dt.date, last: dt.date) -> int:
    """The toy's sales as its API documents them: two sales on every even day of the month, sale n
    (1 and 2) of day d selling (d + n) % 5 + 1 units."""
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return sum((d.day + n) % 5 + 1 for d in days if d.day % 2 == 0 for n in (1, 2))


def kpi(config: Path, *args: str) -> str:
    env = {
        **environment(config.parent),
        PATH_ENV: str(FIXTURES),
        "KPI_TODAY": str(AS_OF + dt.timedelta(days=1)),
    }
    done = subprocess.run(
        [*KPI, *args, "--config", str(config), "--as-of", AS_OF.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        timeout=HANG,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    return out


def test_nothing_outside_the_folder_names_the_toy_platform():
    shipped = [
        *ROOT.glob("connectors/**/*.*"),
        *ROOT.glob("kpi_pipeline/**/*.*"),
        *ROOT.glob("dbt_like_sql/**/*.*"),
        ROOT / "definitions.py",
        ROOT / "pyproject.toml",
        ROOT / "kpi.yaml",
        ROOT / "tests" / "conftest.py",
    ]
    naming = [
        str(p.relative_to(ROOT))
        for p in shipped
        if p.suffix in (".py", ".sql", ".yml", ".yaml", ".toml")
        and re.search(r"\btoy\b", p.read_text(), re.IGNORECASE)
    ]
    assert naming == []


def test_a_toy_platform_in_one_folder_syncs_scores_and_shows(tmp_path, monkeypatch):
    monkeypatch.setenv(PATH_ENV, str(FIXTURES))
    toy = platforms()["toy"]
    assert toy.folder == FIXTURES / "toy"
    emulator = toy.emulator().emulate(get_world(AS_OF))
    url = emulator.server.start()
    try:
        config = tmp_path / "kpi.yaml"
        config.write_text(
            f"business: Toy Town\ntimezone: Europe/Brussels\ncurrency: EUR\ndemo: false\n"
            f"warehouse: data/warehouse.duckdb\nhistory_start: {HISTORY_START}\n"
            f'sources:\n  toy: {{token: "{toy.emulator().TOKEN}", base_url: "{url}"}}\n'
            "targets:\n  toy_units_sold: {month: 100}\n"
        )
        out = kpi(config, "sync", "--history")
        assert "raw/toy__sales" in out, out
        assert any(
            r.path == "/v1/sales" and "cursor" in r.query for r in emulator.server.requests
        )  # paged
        report = kpi(config, "report")
    finally:
        emulator.server.stop()

    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        snaps = {
            (g, p): (a, t, s)
            for g, p, a, t, s in con.execute(
                "select grain, period, actual, target, status from snapshots.kpi_snapshots "
                "where kpi_id = 'toy_units_sold'"
            ).fetchall()
        }
    october = units_sold(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert snaps[("month", "2026-10")] == (october, 100, "achieved" if october >= 100 else "missed")
    november = units_sold(dt.date(2026, 11, 1), AS_OF)
    assert snaps[("month", "2026-11")][0] == november
    week = snaps[("week", "2026-W44")]  # Monday 26 October .. Sunday 1 November
    assert week[0] == units_sold(dt.date(2026, 10, 26), dt.date(2026, 11, 1))

    line = next(line for line in report.splitlines() if "Toys sold" in line)
    assert f"{november:,}" in line or str(november) in line, report
