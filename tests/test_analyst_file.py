"""The analyst's file: both published copies (a business's and the portfolio's) open in DuckDB 1.4,
have the analysts' views, and a comment on every table, view and column that is the Dagster UI's
column description; every command of the README's analyst section runs as written.

DuckDB 1.4 is a separate install (`make` puts it in .venv/duckdb-1.4, never imported by the
project): a subprocess imports it alone. Truth comes from plain SQL on the snapshots.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.portfolio.copy import build_portfolio_copy

ROOT = Path(__file__).resolve().parent.parent
DUCKDB_14 = ROOT / ".venv" / "duckdb-1.4"
README = ROOT / "README.md"

OPEN_WITH_14 = """
import sys
sys.path.insert(0, sys.argv[1])
import duckdb
assert duckdb.__version__.startswith("1.4."), duckdb.__version__
con = duckdb.connect(sys.argv[2], read_only=True)
for sql in sys.argv[3:]:
    print(con.execute(sql).fetchall())
print(duckdb.__version__)
"""


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """A small demo business after one sync by a `kpi` process (its analytics.duckdb and Dagster
    instance), and a portfolio copy made from it: (business folder, the two copies)."""
    from tests.sync_processes import synced_small_setup  # late: it imports tests.conftest

    folder = synced_small_setup(tmp_path_factory.mktemp("analyst"))
    settings = load_config(folder / "kpi.yaml")
    root = tmp_path_factory.mktemp("portfolio")
    result = build_portfolio_copy(root, {"crash_test": settings}, {})
    assert result.included == ["crash_test"], result
    return folder, [folder / "data" / "analytics.duckdb", result.path]


def plain(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


SCORED = (
    "select kpi_id, period, status from scorecard where grain = 'month' order by kpi_id, period"
)


def test_duckdb_1_4_opens_both_published_copies_and_their_views(copies):
    assert (DUCKDB_14 / "duckdb").is_dir(), (
        f"DuckDB 1.4 is not installed in {DUCKDB_14}: run `make .venv/.installed` (the Makefile "
        "installs it there with pip --target)"
    )
    _, paths = copies
    for path in paths:
        truth_sql = (
            "select s.kpi_id, s.period, s.status from snapshots.kpi_snapshots s, "
            "(select max(as_of) as as_of from snapshots.kpi_snapshots) l "
            "where s.grain = 'month' and s.period_start <= l.as_of "
            "and s.period_start > l.as_of - interval 62 day order by 1, 2"
        )
        truth = [list(r) for r in plain(path, truth_sql)]
        done = subprocess.run(
            [
                sys.executable,
                "-I",  # no PYTHONPATH, no user site: only the DuckDB 1.4 it is given
                "-c",
                OPEN_WITH_14,
                str(DUCKDB_14),
                str(path),
                "select count(*) from snapshots.kpi_snapshots",
                SCORED,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        count, scored, version = done.stdout.strip().splitlines()
        assert version.startswith("1.4.")
        assert (
            int(count.strip("[(,)]"))
            == plain(path, "select count(*) from snapshots.kpi_snapshots")[0][0]
            > 0
        )
        # the current month and the last closed one: the snapshots' rows of the last two months
        assert str([tuple(r) for r in truth]) == scored and truth


def test_the_scorecard_has_labels_periods_and_rounded_figures_from_the_snapshots(copies):
    _, [path, portfolio] = copies
    for copy in (path, portfolio):
        rows = plain(
            copy,
            "select v.label = c.label, v.domain = c.domain, v.unit = c.unit, v.period, "
            "v.period_role, v.actual_shown, s.actual, v.actual from scorecard v "
            "join kpis.catalog c using (business_id, kpi_id) join snapshots.kpi_snapshots s "
            "using (business_id, kpi_id, grain, period_start) where v.kpi_id = 'revenue'",
        )
        assert {r[:3] for r in rows} == {(True, True, True)}
        periods = {(r[3], r[4]) for r in rows}
        assert ("2026-11", "current") in periods and ("2026-10", "last closed") in periods
        assert ("2026-Q4", "current") in periods and ("2026", "current") in periods
        assert {r[3] for r in rows if re.fullmatch(r"2026-W\d\d", r[3])}
        for *_, shown, actual, rounded in rows:
            assert rounded == round(actual, 2) and shown.endswith(" EUR")
        # the last closed period is the one right before the current one, for every grain
        ends = plain(
            copy,
            "select grain, period_role, period_start, period_end from scorecard "
            "where kpi_id = 'revenue'",
        )
        starts = {(g, r): (s, e) for g, r, s, e in ends}
        for grain in ("week", "month"):
            assert (
                starts[grain, "last closed"][1] + dt.timedelta(days=1)
                == starts[grain, "current"][0]
            )
    history = plain(
        path,
        "select count(*) from kpi_history h join snapshots.kpi_snapshots s "
        "using (business_id, kpi_id, grain, period_start) where h.value = s.actual",
    )
    assert history[0][0] == plain(path, "select count(actual) from snapshots.kpi_snapshots")[0][0]


def _dagster_descriptions(folder: Path, path: Path) -> dict[tuple[str, str], str]:
    """(table, column) -> the description Dagster shows: each table's asset, else the column
    schemas the publish asset carries (views, tables written beside another asset's)."""
    instance = dg.DagsterInstance.from_config(str(folder / ".dagster"))
    tables = plain(
        path,
        "select distinct schema_name || '.' || table_name from duckdb_columns() "
        "where database_name = current_database() and not internal",
    )
    published = instance.get_latest_materialization_event(
        dg.AssetKey(["published", "analytics_duckdb"])
    )
    assert published is not None
    extra = published.asset_materialization.metadata
    out = {}
    for (table,) in tables:
        event = instance.get_latest_materialization_event(dg.AssetKey(table.split(".")))
        meta = event.asset_materialization.metadata if event is not None else {}
        schema = meta.get("dagster/column_schema") or extra.get(f"columns of {table}")
        assert schema is not None, f"no Dagster column schema describes {table}"
        for column in schema.schema.columns:
            out[(table, column.name)] = column.description
    return out


def test_every_table_view_and_column_has_the_dagster_description_as_its_comment(
    copies, monkeypatch
):
    folder, [path, portfolio] = copies
    monkeypatch.setenv("DAGSTER_HOME", str(folder / ".dagster"))
    dagster = _dagster_descriptions(folder, path)
    for copy in (path, portfolio):
        objects = plain(
            copy,
            "select schema_name, table_name, comment from duckdb_tables() "
            "where database_name = current_database() union all "
            "select schema_name, view_name, comment from duckdb_views() "
            "where database_name = current_database() and not internal",
        )
        assert {f"{s}.{t}" for s, t, _ in objects} >= {
            "main.scorecard",
            "main.kpi_history",
            "snapshots.kpi_snapshots",
        }
        assert not [(s, t) for s, t, c in objects if not (c or "").strip()]
        columns = plain(
            copy,
            "select schema_name || '.' || table_name, column_name, comment from duckdb_columns() "
            "where database_name = current_database() and not internal",
        )
        assert not [(t, c) for t, c, text in columns if not (text or "").strip()]
        # the portfolio's own table has no Dagster asset of a business
        compared = [(t, c, text) for t, c, text in columns if t != "portfolio.businesses"]
        assert len(compared) > 200
        differ = [(t, c, text, dagster.get((t, c))) for t, c, text in compared]
        assert not [d for d in differ if d[2] != d[3]], differ[:5]


def _analyst_section() -> list[tuple[str, str]]:
    """(command, what is typed into it) of the README's analyst section: each ```sh line, with the
    ```sql block right after its block as its input."""
    text = README.read_text()
    section = text.split("## For analysts: the DuckDB tables", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    out = []
    for i, (kind, body) in enumerate(blocks):
        if kind != "sh":
            continue
        typed = blocks[i + 1][1] if i + 1 < len(blocks) and blocks[i + 1][0] == "sql" else ""
        for line in body.splitlines():
            if line.strip() and not line.startswith("#"):
                out.append((line, typed))
    return out


def test_every_command_of_the_readmes_analyst_section_runs_as_written(copies, tmp_path):
    """In a project folder (the clone's .venv, a synced data/), as after `make demo`."""
    folder, _ = copies
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    shutil.copytree(folder / "data", tmp_path / "data")
    commands = _analyst_section()
    assert len(commands) >= 3 and any("duckdb -readonly" in c for c, _ in commands)
    outputs = []
    for command, typed in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            input=typed,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0 and "Error" not in done.stdout + done.stderr, (command, done)
        assert done.stdout.strip(), command
        outputs.append(done.stdout)
    shown = "\n".join(outputs)
    # the scorecard's labels, the history of revenue and the comments came out
    assert "Revenue" in shown and "2026-11" in shown and "last closed" in shown
    assert "where a paced KPI should be by as_of" in shown


def test_a_warehouse_an_earlier_release_built_still_publishes_its_tables_described(
    copies, tmp_path
):
    """`kpi doctor --repair` publishes a warehouse before any sync of this release rebuilt it: no
    kpis.catalog.decimals, so no views yet, but the tables and their comments are there."""
    from kpi_pipeline.warehouse.database import Warehouse

    folder, _ = copies
    old = tmp_path / "warehouse.duckdb"
    shutil.copy(folder / "data" / "warehouse.duckdb", old)
    with duckdb.connect(str(old)) as con:
        con.execute("alter table kpis.catalog drop column decimals")
    target = Warehouse(old, "crash_test").publish(tmp_path / "analytics.duckdb")
    assert plain(
        target, "select count(*) from duckdb_views() where schema_name = 'main' and not internal"
    ) == [(0,)]
    [(columns, comments)] = plain(
        target,
        "select count(*), count(comment) from duckdb_columns() "
        "where table_name = 'kpi_snapshots' and schema_name = 'snapshots'",
    )
    assert columns == comments > 20


KILLED_PUBLISH = (
    "import sys; from kpi_pipeline.warehouse.database import Warehouse; "
    "Warehouse(sys.argv[1], 'crash_test').publish(sys.argv[2])"
)


def in_2_0_storage(path: Path) -> None:
    """Rewrite the warehouse ``path`` in DuckDB 2.0's storage version, as an earlier release
    created it (DuckDB's default; 1.4 cannot open it)."""
    old = path.with_name("old-" + path.name)
    with duckdb.connect(":memory:") as con:
        con.execute(f"attach '{path}' as w (read_only)")
        con.execute(f"attach '{old}' as o")
        con.execute("copy from database w to o")
        tags = con.execute("select tags from duckdb_databases() where database_name = 'o'")
        assert tags.fetchone() == ({"storage_version": "v2.0.0+"},)
    old.replace(path)


@pytest.mark.parametrize("storage", ["v1.4.0", "v2.0.0"])
def test_a_publish_killed_during_its_copy_leaves_debris_doctor_finds_log_and_all(
    copies, tmp_path, storage
):
    """A warehouse in 1.4's version is copied byte for byte: a kill leaves the partial copy
    (``.<name>.<pid>.tmp``); an older one is written by DuckDB through its log
    (``.<name>.<pid>.tmp.wal``): a kill leaves both. `kpi doctor --repair` removes all."""
    import os

    from kpi_pipeline.orchestration.instance_state import debris, remove_debris
    from kpi_pipeline.warehouse.faults import ENV, EXIT_CODE

    folder, _ = copies
    business = tmp_path / "business"
    shutil.copytree(folder, business, ignore=shutil.ignore_patterns(".dagster"))
    data = business / "data"
    if storage == "v2.0.0":
        in_2_0_storage(data / "warehouse.duckdb")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_PUBLISH,
            str(data / "warehouse.duckdb"),
            str(data / "x.duckdb"),
        ],
        env={**os.environ, ENV: "publish:during_copy"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_CODE, done.stderr
    left = sorted(p.name for p in data.iterdir() if p.name.endswith((".tmp", ".tmp.wal")))
    if storage == "v2.0.0":
        assert len(left) == 2 and left[1] == left[0] + ".wal"
    else:
        assert len(left) == 1 and left[0].endswith(".tmp")
    settings = load_config(business / "kpi.yaml")
    assert sorted(p.name for p in debris(settings)) == left
    remove_debris(settings)
    assert not [p for p in data.iterdir() if p.name.endswith((".tmp", ".tmp.wal"))]
