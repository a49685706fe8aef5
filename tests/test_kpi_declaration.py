"""A KPI is added by one declaration (issue 23 §3): an entry in a copy of kpis/catalog.yml, with
its daily formula, and nothing else, syncs on the sandbox and is scored with the world's truth.

Truth comes from the sandbox world's events (its paid invoices' lines), not from the pipeline.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from contextlib import redirect_stdout

import duckdb
import pytest

from kpi_pipeline.cli.main import main
from kpi_pipeline.kpi.catalog import SQL_DIR, load_catalog
from kpi_pipeline.sql.kpi_sql import daily_sql, ranges_sql
from kpi_pipeline.sql.models import PYTHON_TABLES, ModelError, all_raw_tables, load_models
from tests.conftest import AS_OF, live_environment, subset_config

UNITS_SOLD = """
  - id: units_sold
    label: Units sold
    domain: sales
    unit: count
    direction: higher
    aggregation: sum
    sources: [stripe]
    description: The quantities on the lines of paid Stripe invoices, on the payment date.
    daily:
      from: staging.stg_stripe__invoice_lines
      day: payment_date
      numerator: quantity
"""


def models_with(tmp_path, entry: str):
    """A copy of the shipped models whose catalog ends with ``entry``."""
    folder = tmp_path / "models"
    shutil.copytree(SQL_DIR, folder)
    catalog = folder / "kpis" / "catalog.yml"
    catalog.write_text(catalog.read_text().rstrip("\n") + "\n" + entry)
    return folder


def units_sold_truth(world, start: dt.date, end: dt.date) -> int:
    """Units on the lines of the invoices paid in start..end, from the world's payments."""
    return sum(world.truth_sales(start, end)["units_by_product"].values())


def test_a_kpi_added_by_one_catalog_entry_is_synced_and_scored(tmp_path, monkeypatch, sandbox):
    folder = models_with(tmp_path, UNITS_SOLD)
    live_environment(monkeypatch, sandbox, tmp_path)
    monkeypatch.setenv("KPI_SQL_DIR", str(folder))
    config = subset_config(
        tmp_path,
        sandbox,
        ["stripe"],
        dt.date(2026, 10, 1),
        extra="targets:\n  units_sold: {month: 40}\n",
    )
    assert main(["sync", "--config", str(config), "--history", "--as-of", str(AS_OF)]) == 0

    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        snaps = {
            (g, p): (a, t, s)
            for g, p, a, t, s in con.execute(
                "select grain, period, actual, target, status from snapshots.kpi_snapshots "
                "where kpi_id = 'units_sold'"
            ).fetchall()
        }
    october = snaps[("month", "2026-10")]
    assert (
        october[0]
        == units_sold_truth(sandbox.world, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
        > 0
    )
    assert october[1] == 40 and october[2] == (
        "achieved" if october[0] >= 40 else "missed"
    )  # scored
    week = snaps[("week", "2026-W44")]  # Monday 26 October .. Sunday 1 November
    assert week[0] == units_sold_truth(sandbox.world, dt.date(2026, 10, 26), dt.date(2026, 11, 1))

    # `kpi catalog` describes it and reads its lineage from the declaration: the invoices only
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["catalog", "--config", str(config)]) == 0
    lines = out.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("units_sold "))
    reads = [line.strip() for line in lines[at : at + 5] if line.strip().startswith("Reads ")]
    assert reads and reads[0].startswith("Reads stripe/invoices:"), lines[at : at + 5]


def test_every_shipped_kpi_has_its_formula_in_its_catalog_entry():
    kpis = load_catalog(SQL_DIR / "kpis" / "catalog.yml")
    daily, ranges = daily_sql(kpis), ranges_sql(kpis)
    for kpi in kpis:
        assert bool(kpi.daily) != bool(kpi.ranges), kpi.id  # one formula each
        assert (f"'{kpi.id}' as kpi_id" in daily) == bool(kpi.daily), kpi.id
        assert (f"'{kpi.id}' as kpi_id" in ranges) == bool(kpi.ranges), kpi.id
    # the distinct counts are counted for exact ranges, never added up from days
    assert (
        {k.id for k in kpis if k.ranges}
        == {k.id for k in kpis if k.aggregation == "distinct"}
        == {
            "website_visitors",
            "organic_search_visitors",
            "orders_per_customer",
            "repeat_customer_rate",
        }
    )


def test_a_formula_reading_an_unknown_table_fails_naming_the_catalog(tmp_path):
    entry = UNITS_SOLD.replace("staging.stg_stripe__invoice_lines", "staging.stg_shop__lines")
    folder = models_with(tmp_path, entry)
    with pytest.raises(
        ModelError, match=r"kpis/catalog\.yml:\d+: unknown table 'staging.stg_shop__lines'"
    ):
        load_models([*all_raw_tables(), *PYTHON_TABLES], folder)


def test_a_hand_written_kpi_daily_beside_the_catalog_is_refused(tmp_path):
    folder = models_with(tmp_path, "")
    (folder / "kpis" / "kpi_daily.sql").write_text("select 1 as x\n")
    with pytest.raises(ModelError, match="generated from"):
        load_models([], folder)


def test_a_wrong_declaration_names_its_entry(tmp_path):
    folder = models_with(tmp_path, UNITS_SOLD.replace("numerator: quantity", "numerater: quantity"))
    with pytest.raises(ValueError, match=r"units_sold\): daily\.0\.(numerator|numerater)"):
        load_catalog(folder / "kpis" / "catalog.yml")
