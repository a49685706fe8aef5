"""Checks declared beside the SQL models: blocking where a bad row would corrupt a KPI,
row counts warn."""

from __future__ import annotations

import dagster as dg
import pytest

from kpi_pipeline.orchestration.assets.models import model_assets
from kpi_pipeline.orchestration.resources import WarehouseResource
from kpi_pipeline.reporting.alerts import root_message
from kpi_pipeline.sql.checks import ChecksFileError, load_checks, row_count_anomaly
from kpi_pipeline.sql.models import SQL_DIR, load_models, platform_folders
from kpi_pipeline.warehouse.database import Warehouse


def project(tmp_path, checks: str):
    (tmp_path / "staging").mkdir(parents=True)
    (tmp_path / "kpis").mkdir()
    (tmp_path / "staging" / "stg_orders.sql").write_text(
        "-- one row per order\nselect order_id, day, status from raw.orders\n"
    )
    (tmp_path / "staging" / "checks.yml").write_text(checks)
    (tmp_path / "kpis" / "orders_per_day.sql").write_text(
        "select day, count(*) as n from staging.stg_orders group by day\n"
    )
    return tmp_path


def fill(wh: Warehouse, rows: list[tuple]) -> None:
    with wh.writer() as con:
        con.execute(
            "create or replace table raw.orders (order_id varchar, day date, status varchar)"
        )
        if rows:
            con.executemany("insert into raw.orders values (?, ?, ?)", rows)


CHECKS = (
    "stg_orders:\n  unique: [order_id]\n  not_null: [order_id, day]\n"
    "  accepted_values: {status: [paid, refunded]}\n"
)


def build(sql_dir, wh_path):
    models = load_models(["raw.orders"], sql_dir, with_platforms=False)
    assets = model_assets(models, ["raw.orders"], "duckdb")
    return assets, {"warehouse": WarehouseResource(path=str(wh_path), business_id="shop")}


def checks_of(result, model="stg_orders"):
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.asset_key.path[-1] == model
    }


def materialized(result):
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_every_shipped_model_declares_its_key_and_the_declarations_load():
    folders = [
        SQL_DIR / "staging",
        *platform_folders(),
    ]  # the platforms' staging models are beside them
    staging = {name: checks for folder in folders for name, checks in load_checks(folder).items()}
    kpis = load_checks(SQL_DIR / "kpis", ["kpi_daily", "kpi_ranges"])
    sql = {p.stem for folder in folders for p in folder.glob("*.sql")}
    assert set(staging) == sql  # every staging model is checked
    assert staging["stg_stripe__charges"].unique == ("business_id", "charge_id")
    assert kpis["kpi_values"].accepted_values["grain"] == (
        "day",
        "week",
        "month",
        "quarter",
        "year",
    )
    # kpi_daily and kpi_ranges, generated from catalog.yml, are checked like files
    assert kpis["kpi_daily"].unique == (
        "business_id",
        "kpi_id",
        "day",
        "dimension",
        "dimension_value",
    )
    with pytest.raises(ChecksFileError, match="kpi_daily: no such model"):
        load_checks(SQL_DIR / "kpis")


def test_a_duplicate_a_null_and_an_unknown_value_block_everything_downstream(tmp_path):
    sql_dir = project(tmp_path / "sql", CHECKS)
    wh = Warehouse(str(tmp_path / "wh.duckdb"), "shop")
    fill(
        wh,
        [
            ("o1", "2026-11-01", "paid"),
            ("o1", "2026-11-01", "paid"),
            ("o2", None, "paid"),
            ("o3", "2026-11-02", "lost"),
        ],
    )
    assets, resources = build(sql_dir, tmp_path / "wh.duckdb")
    result = dg.materialize(assets, resources=resources, raise_on_error=False)
    declared = checks_of(result)["keys_and_values"]
    meta = {k: v.value for k, v in declared.metadata.items()}
    assert not declared.passed and declared.severity == dg.AssetCheckSeverity.ERROR
    assert (
        meta["failed"] == "unique_key, not_null_day, accepted_values_status"
    )  # not not_null_order_id
    assert "o1" in meta["unique_key: duplicates"] and meta["not_null_day: null_rows"] == 1
    assert (
        meta["not_null_order_id: null_rows"] == 0
        and meta["accepted_values_status: unexpected"] == "lost"
    )
    assert "kpis/orders_per_day" not in materialized(result)  # blocked: a KPI is never built on it
    assert not result.success
    # fixed at the source: everything passes and runs
    fill(wh, [("o1", "2026-11-01", "paid"), ("o2", "2026-11-01", "refunded")])
    result = dg.materialize(assets, resources=resources, raise_on_error=False)
    assert result.success and all(c.passed for c in checks_of(result).values())
    assert materialized(result) == {"staging/stg_orders", "kpis/orders_per_day"}


def test_a_sudden_drop_in_rows_warns_without_stopping_the_run(tmp_path):
    sql_dir = project(tmp_path / "sql", "stg_orders:\n  unique: [order_id]\n")
    wh = Warehouse(str(tmp_path / "wh.duckdb"), "shop")
    assets, resources = build(sql_dir, tmp_path / "wh.duckdb")
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(3):
            fill(wh, [(f"o{i}", "2026-11-01", "paid") for i in range(100)])
            result = dg.materialize(assets, resources=resources, instance=instance)
            assert checks_of(result)["row_count"].passed
        fill(wh, [(f"o{i}", "2026-11-01", "paid") for i in range(30)])
        result = dg.materialize(
            assets, resources=resources, instance=instance, raise_on_error=False
        )
    row_count = checks_of(result)["row_count"]
    assert not row_count.passed and row_count.severity == dg.AssetCheckSeverity.WARN
    assert "30 rows, under half of the usual 100" in row_count.metadata["why"].value
    assert result.success and "kpis/orders_per_day" in materialized(result)  # a warning, not a stop
    events = result.get_asset_materialization_events()
    meta = next(e for e in events if e.asset_key.path[-1] == "stg_orders").materialization.metadata
    assert meta["dagster/row_count"].value == 30
    assert [c.name for c in meta["dagster/column_schema"].schema.columns] == [
        "order_id",
        "day",
        "status",
    ]
    (definition,) = assets  # one step builds both models
    key = dg.AssetKey(["staging", "stg_orders"])
    refs = definition.metadata_by_key[key]["dagster/code_references"].code_references
    assert refs[0].file_path.endswith("staging/stg_orders.sql")  # the UI links the SQL file


def test_one_step_builds_the_models_and_a_failed_blocking_check_stops_only_its_dependents(
    tmp_path,
):
    sql_dir = project(tmp_path / "sql", CHECKS)
    # beside the blocked chain: a model that does not read stg_orders (built after it) ...
    (sql_dir / "staging" / "stg_statuses.sql").write_text(
        "select distinct status from raw.orders\n"
    )
    (sql_dir / "kpis" / "orders_per_week.sql").write_text(  # ... and one two models downstream
        "select date_trunc('week', day) as week, sum(n) as n from kpis.orders_per_day group by 1\n"
    )
    wh = Warehouse(str(tmp_path / "wh.duckdb"), "shop")
    fill(wh, [("o1", "2026-11-01", "paid"), ("o1", "2026-11-01", "paid")])  # a duplicate key
    assets, resources = build(sql_dir, tmp_path / "wh.duckdb")

    @dg.asset(deps=[dg.AssetKey(["staging", "stg_statuses"])])
    def report() -> None:  # a step after the models' step, on a model that was built
        raise AssertionError("a step after a failed blocking check ran")

    result = dg.materialize([*assets, report], resources=resources, raise_on_error=False)
    started = [
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START
    ]
    assert started == ["sql_models"]  # every model in one step; report not started
    assert not checks_of(result)["keys_and_values"].passed
    assert materialized(result) == {"staging/stg_orders", "staging/stg_statuses"}
    assert not result.success
    with wh.reader() as con:  # neither dependent was built, not even as an empty table
        built = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
    assert {"stg_orders", "stg_statuses"} <= built and not {
        "orders_per_day",
        "orders_per_week",
    } & built
    # a selection builds only what it selects (kpi sync --source, one model in the UI)
    fill(wh, [("o1", "2026-11-01", "paid")])
    result = dg.materialize(
        [*assets, report],
        resources=resources,
        selection=["kpis/orders_per_day"],
        raise_on_error=False,
    )
    assert result.success and materialized(result) == {"kpis/orders_per_day"}


def test_a_model_that_fails_to_build_stops_its_dependents_and_the_step_the_rest_is_built(tmp_path):
    sql_dir = project(tmp_path / "sql", "stg_orders:\n  unique: [order_id]\n")
    (sql_dir / "kpis" / "broken.sql").write_text("select order_id from staging.stg_orders\n")
    (sql_dir / "kpis" / "on_broken.sql").write_text("select * from kpis.broken\n")
    wh = Warehouse(str(tmp_path / "wh.duckdb"), "shop")
    fill(wh, [("o1", "2026-11-01", "paid")])
    assets, resources = build(sql_dir, tmp_path / "wh.duckdb")
    assert dg.materialize(assets, resources=resources).success
    # broken now: its table of the last run is there, yet what reads it is not built on it
    (sql_dir / "kpis" / "broken.sql").write_text("select no_such_column from staging.stg_orders\n")
    assets, resources = build(sql_dir, tmp_path / "wh.duckdb")
    result = dg.materialize(assets, resources=resources, raise_on_error=False)
    assert materialized(result) == {"staging/stg_orders", "kpis/orders_per_day"}
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "no_such_column" in root_message(failure.step_failure_data.error)  # what kpi sync says
    assert not result.success


@pytest.mark.parametrize(
    ("rows", "previous", "passed"),
    [
        (100, [], True),
        (0, [50, 60], False),
        (0, [0, 0], True),
        (40, [100, 90, 110], False),
        (60, [100, 90, 110], True),
        (1000, [100], True),
    ],
)
def test_row_count_anomaly(rows, previous, passed):
    assert row_count_anomaly(rows, previous)[0] is passed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stg_nothing:\n  unique: [id]\n", "stg_nothing: no such model (stg_nothing.sql) in sql/"),
        ("stg_orders:\n  uniqe: [id]\n", "stg_orders.uniqe: Extra inputs are not permitted"),
        (
            'stg_orders:\n  unique: ["id; drop table x"]\n',
            "stg_orders.unique: Value error, 'id; drop table x' is not",
        ),
        ("- a\n", "expected a mapping of model name -> checks"),
    ],
)
def test_a_wrong_checks_file_names_the_file_and_the_model(tmp_path, text, message):
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "stg_orders.sql").write_text("select 1 as id\n")
    (folder / "checks.yml").write_text(text)
    with pytest.raises(ChecksFileError) as err:
        load_checks(folder)
    assert str(folder / "checks.yml") in str(err.value) and message in str(err.value)
