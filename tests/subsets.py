"""Shared by test_subsets.py and test_subsets_combined.py: every command on one setup of sources.

A helper module, not a test module, so neither test file imports the other.
"""

import datetime as dt
import json
import shutil

import duckdb

from kpi_pipeline.cli.main import main
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from tests import expected_kpis
from tests.conftest import AS_OF, live_environment, subset_config

COMBINED = [
    ["mailchimp", "ga4"],
    ["stripe", "calendly"],
    ["hubspot", "stripe", "calendly"],
]  # test_subsets_combined
HISTORY_START = dt.date(2026, 11, 9)  # one week: what matters here is which setups run
# the analysts' tables every business's published copy has (README "For analysts")
PROMISED = {
    "kpis.catalog",
    "kpis.kpi_values",
    "snapshots.kpi_snapshots",
    "snapshots.kpi_snapshot_history",
    "snapshots.targets",
}
# models that read several platforms: a configured one brings the others' staging (read empty)
SHARED = [{"stripe", "calendly", "hubspot"}, {"meta_ads", "google_ads"}]


def every_command(sources, sandbox, tmp_path, monkeypatch, capsys):
    """Sync ``sources`` on a new, then an existing warehouse; report, catalog, check;
    the KPIs scored."""
    live_environment(monkeypatch, sandbox, tmp_path)
    path = subset_config(tmp_path, sandbox, sources, HISTORY_START)
    args = ["--config", str(path), "--as-of", AS_OF.isoformat()]
    assert main(["sync", *args, "--source", sources[0]]) == 0, capsys.readouterr().out
    if len(sources) > 1:
        # the others join the existing warehouse, then one source alone syncs again on it (for a
        # single source, `--source S` is the whole setup: a second sync would repeat the first)
        assert main(["sync", *args]) == 0, capsys.readouterr().out
        assert main(["sync", *args, "--source", sources[-1]]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert main(["report", *args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(["catalog", "--config", str(path)]) == 0
    assert main(["check", "--config", str(path)]) == 0
    settings = load_config(path)
    con = duckdb.connect(str(settings.published_path), read_only=True)
    tables = {
        f"{s}.{t}"
        for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
    }
    assert PROMISED <= tables  # the analysts' tables, whatever the sources
    scored = {
        k for (k,) in con.execute("select distinct kpi_id from snapshots.kpi_snapshots").fetchall()
    }
    valued = {k for (k,) in con.execute("select distinct kpi_id from kpis.kpi_values").fetchall()}
    catalog = {k for (k,) in con.execute("select kpi_id from kpis.catalog").fetchall()}
    con.close()
    expected = expected_kpis.scored(sources)  # by hand from docs/ARCHITECTURE.md, not the code
    assert scored == expected
    assert valued <= catalog == expected_kpis.enabled(sources)
    assert {r["kpi_id"] for r in doc["kpis"]} <= expected
    # a business's graph holds only the tables of its sources (and those a shared model reads)
    near = set(sources).union(*(group for group in SHARED if group & set(sources)))
    assert {
        t.split(".")[1].removeprefix("stg_").split("__")[0]
        for t in tables
        if t.startswith(("raw.", "staging.stg_")) and "__" in t
    } <= near | {"settings"}
    assert same_values_as_every_model(settings, tmp_path)


def same_values_as_every_model(settings, tmp_path) -> bool:
    """The KPI values of the business's graph are those every model gives on the same raw tables."""

    def values(path):
        with duckdb.connect(str(path), read_only=True) as con:
            return sorted(
                con.execute("select * exclude (business_id) from kpis.kpi_values").fetchall(),
                key=repr,
            )

    copy = tmp_path / "every_model.duckdb"
    shutil.copy(settings.published_path, copy)
    run_models(
        Warehouse(copy, settings.business_id), settings, AS_OF
    )  # every model, whatever the sources
    ours, full = values(settings.published_path), values(copy)
    assert ours == full, (len(ours), len(full))
    return True
