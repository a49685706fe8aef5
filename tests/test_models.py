"""SQL model discovery: scope-aware dependencies, unknown tables, cycles."""

import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.assets.raw import raw_tables
from kpi_pipeline.sql.models import PYTHON_TABLES, ModelError, find_tables, load_models


def test_cte_names_are_not_tables():
    sql = """
    with orders as (select * from raw.shop__orders),
         staging as (select * from orders join staging.stg_x__y using (id))
    select * from staging where id in (select id from kpis.exclusions)
    """
    assert find_tables(sql) == {"raw.shop__orders", "staging.stg_x__y", "kpis.exclusions"}


def test_a_cte_shadowing_a_table_name_in_another_scope():
    sql = (
        "with raw_rows as (select 1 as id) select * from raw_rows union all select id from raw.a__b"
    )
    assert find_tables(sql) == {"raw.a__b"}


def write(folder, table, sql):
    schema, name = table.split(".")
    (folder / schema).mkdir(exist_ok=True)
    (folder / schema / f"{name}.sql").write_text(sql)


def test_models_come_in_dependency_order(tmp_path):
    write(tmp_path, "kpis.b", "with x as (select * from staging.a) select * from x")
    write(tmp_path, "staging.a", "select * from raw.s__t")
    write(tmp_path, "kpis.c", "select * from kpis.b join staging.a using (id)")
    order = [m.table for m in load_models(["raw.s__t"], tmp_path, with_platforms=False)]
    assert order.index("staging.a") < order.index("kpis.b") < order.index("kpis.c")


def test_unknown_table_fails_naming_file_and_line(tmp_path):
    write(tmp_path, "staging.a", "select 1 as id\nunion all\nselect id from raw.missing__stream")
    with pytest.raises(ModelError, match=r"staging/a\.sql:3: unknown table 'raw.missing__stream'"):
        load_models([], tmp_path, with_platforms=False)


def test_cycle_fails_naming_the_whole_cycle(tmp_path):
    write(tmp_path, "kpis.a", "select * from kpis.b")
    write(tmp_path, "kpis.b", "select * from kpis.c")
    write(tmp_path, "kpis.c", "select * from kpis.a")
    with pytest.raises(ModelError, match="cycle") as info:
        load_models([], tmp_path, with_platforms=False)
    for name in ("kpis/a.sql", "kpis/b.sql", "kpis/c.sql"):
        assert name in str(info.value)


def test_unparsable_sql_names_the_file(tmp_path):
    write(tmp_path, "kpis.bad", "select from where (")
    with pytest.raises(ModelError, match="bad.sql: cannot parse"):
        load_models([], tmp_path, with_platforms=False)


def test_shipped_models_load_against_the_shipped_sources():
    settings = load_config("kpi.yaml")
    models = {m.table: m for m in load_models([*raw_tables(settings), *PYTHON_TABLES])}
    assert models["kpis.kpi_values"].deps == {"kpis.kpi_window_values", "kpis.catalog"}
    assert models["kpis.newsletter_subscriber_levels"].deps == {
        "staging.stg_mailchimp__list_activity",
        "staging.stg_mailchimp__growth_history",
        "staging.stg_mailchimp__list_snapshots",
    }
    for model in models.values():
        assert model.description, f"{model.path} has no header comment saying its grain"
    # kpi_daily is generated from the catalog's formulas, and checked as checks.yml declares
    daily = models["kpis.kpi_daily"]
    assert daily.path.name == "catalog.yml" and daily.checks.unique[:2] == ("business_id", "kpi_id")
    assert {
        "kpis.ad_campaign_days",
        "staging.stg_mailchimp__campaigns",
        "kpis.kpi_daily_custom",
        "kpis.kpi_zero_days",
    } <= daily.deps


def test_the_kpis_lineage_remembered_across_processes_is_the_lineage_parsed(tmp_path, monkeypatch):
    from kpi_pipeline.kpi import lineage
    from kpi_pipeline.kpi.catalog import sql_dir
    from kpi_pipeline.sql.models import all_raw_tables

    monkeypatch.setenv("KPI_CACHE_DIR", str(tmp_path))
    parsed = lineage.kpi_raw_tables(load_models([*all_raw_tables(), *PYTHON_TABLES], sql_dir()))
    for _ in range(2):  # the first parses and remembers, the second (a new process) reads it back
        lineage._lineage_of.cache_clear()
        assert lineage._lineage_of(sql_dir()) == parsed
        assert (tmp_path / lineage.LINEAGE_FILE).exists()
    lineage._lineage_of.cache_clear()
