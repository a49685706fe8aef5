"""Our SQLite event log (kpi_pipeline/event_log.py) records what Dagster's own does.

A run over a range of daily partitions hands Dagster's storage one batch of materializations
(DAGSTER_EVENT_BATCH_SIZE), and a new run one batch of planned materializations; ours writes a
batch in one transaction per file, without a file sync per commit. Whatever Dagster
later asks (materialized partitions, the latest materialization of each day, the run's own
events, the asset's last materialization) must read the same as on Dagster's storage.
"""

import datetime as dt

import dagster as dg

from kpi_pipeline.event_log import EventLogStorage
from kpi_pipeline.orchestration.run import EVENT_LOG_BLOCK, INSTANCE_YAML

DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset(partitions_def=DAYS, deps=[daily], backfill_policy=dg.BackfillPolicy.single_run())
def downstream(context: dg.AssetExecutionContext) -> None:
    context.log.info("built")


def _run_twice(home, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    job = dg.Definitions(assets=[daily, downstream]).resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        for first, last in (
            ("2026-11-01", "2026-11-10"),
            ("2026-11-08", "2026-11-12"),
        ):  # overlapping ranges
            result = job.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                },
            )
            assert result.success
        key = dg.AssetKey("daily")
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key), limit=100
        ).records
        runs = [r.run_id for r in instance.get_runs()]
        return {
            "storage": type(instance.event_log_storage).__name__,
            "partitions": sorted(instance.get_materialized_partitions(key)),
            "per_day": sorted((r.partition_key, runs.index(r.run_id)) for r in records),
            "last": runs.index(instance.get_latest_materialization_event(key).run_id),
            "run_events": [
                len(
                    instance.get_records_for_run(
                        r, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
                    ).records
                )
                for r in runs
            ],
            "downstream": sorted(instance.get_materialized_partitions(dg.AssetKey("downstream"))),
            # the planned materializations a run records when it is created (one batch)
            "planned": [
                len(
                    instance.get_records_for_run(
                        r, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
                    ).records
                )
                for r in runs
            ],
            "planned_index": sorted(
                (r.event_log_entry.dagster_event.partition, runs.index(r.run_id))
                for r in instance.fetch_planned_materializations(
                    dg.AssetRecordsFilter(asset_key=key), limit=100
                ).records
            ),
            "planned_last": runs.index(
                instance.get_latest_planned_materialization_info(key).run_id
            ),
        }


def test_batched_writes_read_back_as_dagsters_own_storage_does(tmp_path, monkeypatch):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for home, text in ((ours, INSTANCE_YAML + EVENT_LOG_BLOCK), (theirs, INSTANCE_YAML)):
        home.mkdir()
        (home / "dagster.yaml").write_text(text)
    got, expected = _run_twice(ours, monkeypatch), _run_twice(theirs, monkeypatch)
    assert (
        got.pop("storage") == "EventLogStorage"
        and expected.pop("storage") == "SqliteEventLogStorage"
    )
    assert got == expected
    days = [(dt.date(2026, 11, 1) + dt.timedelta(days=i)).isoformat() for i in range(12)]
    # newest run first: 5 days x 2 assets, then 10 days x 2 assets
    assert got["partitions"] == days and got["run_events"] == [10, 20] and len(got["per_day"]) == 15


def test_commits_do_not_wait_for_the_disk_and_the_files_stay_in_wal_mode(tmp_path):
    storage = EventLogStorage.from_config_value(None, {"base_dir": str(tmp_path / "runs")})
    for shard in ("run1", "index"):
        with storage.run_connection(shard) as conn:
            assert (
                conn.exec_driver_sql("pragma synchronous").scalar() == 1
            )  # NORMAL: no file sync per commit
            assert (
                conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            )  # where NORMAL stays consistent
    storage.dispose()


def test_engines_are_kept_per_file_and_let_go_of_old_ones(tmp_path):
    storage = EventLogStorage.from_config_value(
        None, {"base_dir": str(tmp_path / "runs")}
    )  # as dagster.yaml builds it
    for n in range(12):
        with storage.run_connection(f"run{n}") as conn:
            conn.exec_driver_sql("select 1")
    assert (
        len(storage._engines) <= 8 and "run11" in storage._engines
    )  # the newest stay, the oldest go
    storage.delete_events("run11")
    assert "run11" not in storage._engines
    storage.dispose()
    assert not storage._engines


def test_an_instance_made_before_keeps_its_files_and_gains_batched_writes(tmp_path, monkeypatch):
    from kpi_pipeline.config.settings import load_config
    from kpi_pipeline.orchestration.run import ensure_instance

    home = tmp_path / ".dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)  # written by an earlier kpi
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    (tmp_path / "kpi.yaml").write_text("business: B\nhistory_start: 2026-11-01\nsources: {}\n")
    ensure_instance(load_config(tmp_path / "kpi.yaml"))
    ensure_instance(load_config(tmp_path / "kpi.yaml"))  # once only
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML + EVENT_LOG_BLOCK
