"""Dagster's Postgres instance storage (the path beyond one machine) against a real PostgreSQL.

A throwaway cluster (Debian's postgresql-15, tests/pg.py) holds the instance of a two-source
business; its first sync and its nightly sync give exactly the KPIs the same syncs give on the
default SQLite instance, and Dagster's records (runs, one materialization per day partition,
the pool) live in PostgreSQL. Skipped where PostgreSQL is not installed, except under CI
(KPI_REQUIRE_POSTGRES=1), where it fails instead.
"""

import datetime as dt
import os

import duckdb
import pytest

from kpi_pipeline.cli.main import main
from tests import pg
from tests.conftest import AS_OF, live_environment, subset_config

REQUIRED = os.environ.get("KPI_REQUIRE_POSTGRES") == "1"
if not pg.available():
    if REQUIRED:
        raise RuntimeError(
            f"PostgreSQL is required (KPI_REQUIRE_POSTGRES=1) but {pg.PG_BIN}/initdb is missing"
        )
    pytest.skip(f"PostgreSQL not installed ({pg.PG_BIN})", allow_module_level=True)

START = dt.date(2026, 10, 1)
SOURCES = ["mailchimp", "stripe"]


def _sync_twice(folder, sandbox, monkeypatch, capsys):
    folder.mkdir(exist_ok=True)
    live_environment(monkeypatch, sandbox, folder)
    config = subset_config(folder, sandbox, SOURCES, START)
    args = ["--config", str(config)]
    assert (
        main(
            [
                "sync",
                *args,
                "--as-of",
                (AS_OF - dt.timedelta(days=1)).isoformat(),
                "--start",
                START.isoformat(),
            ]
        )
        == 0
    ), capsys.readouterr().out
    assert main(["sync", *args, "--as-of", AS_OF.isoformat()]) == 0, (
        capsys.readouterr().out
    )  # the nightly run
    capsys.readouterr()
    with duckdb.connect(str(folder / "data" / "analytics.duckdb"), read_only=True) as con:
        return con.execute(
            "select kpi_id, grain, period_start, coalesce(dimension_value, ''), value "
            "from kpis.kpi_values order by all"
        ).fetchall()


def test_the_same_syncs_on_postgres_storage_give_the_same_kpis(
    sandbox, tmp_path, monkeypatch, capsys
):
    import dagster as dg

    on_sqlite = _sync_twice(tmp_path / "sqlite", sandbox, monkeypatch, capsys)
    folder = tmp_path / "postgres"
    with pg.throwaway_cluster(durable=False) as url:
        home = folder / ".dagster"
        home.mkdir(parents=True)  # the instance an operator configured: kpi keeps its storage
        (home / "dagster.yaml").write_text(pg.instance_yaml(url))
        on_postgres = _sync_twice(folder, sandbox, monkeypatch, capsys)
        assert (
            "event_log_storage" not in (home / "dagster.yaml").read_text()
        )  # its own storage is kept

        with dg.DagsterInstance.get() as instance:
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            runs = instance.get_runs()
            assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
            days = instance.get_materialized_partitions(
                dg.AssetKey(["raw", "mailchimp__campaign_reports"])
            )
            assert (
                len(days) == (AS_OF - START).days + 1
            )  # one materialization per day, batched or not
            assert instance.event_log_storage.get_concurrency_info("duckdb").slot_count == 1
        assert not list(home.glob("history/runs/*.db"))  # nothing went to SQLite files
    assert on_sqlite and on_postgres == on_sqlite
