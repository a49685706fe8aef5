"""Build the warehouse's KPI tables outside Dagster: the calendar, the catalog, coverage and
every SQL model, in order (the same SQL the model assets run).

Apart from ``models`` because it needs the calendar and coverage, which need the models' lineage:
in ``models`` it made an import circle.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.registry import SOURCES
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.calendar import calendar_windows, catalog_frame, parameters_frame
from kpi_pipeline.kpi.coverage import coverage_table
from kpi_pipeline.sql.models import PYTHON_TABLES, all_raw_tables, load_models
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import ensure_tables


def run_models(
    warehouse: Warehouse, settings: Settings, as_of: dt.date, sql_dir: Path | None = None
) -> dict[str, int]:
    """Build the calendar, the catalog and every model in order, outside Dagster.

    For tests and benchmarks: the same SQL the model assets run, on any warehouse, but every
    model and every KPI's formula whatever the sources ``settings`` configures (a business's graph
    keeps those its sources feed, docs/ARCHITECTURE.md#a-business-runs-only-its-own-models): tests
    load any platform's raw rows directly, and compare a business's graph with this.
    Returns rows per table. ``sql_dir``: the models' folder (default ``$KPI_SQL_DIR``, else the
    shipped dbt_like_sql/).
    """
    counts: dict[str, int] = {}
    with warehouse.writer():  # one open of the file for the whole build
        ensure_tables(warehouse, [spec for _, specs in SOURCES.values() for spec in specs.values()])
        warehouse.write_frame("kpis.catalog", catalog_frame(settings))
        warehouse.write_frame("kpis.calendar_windows", calendar_windows(settings, as_of))
        warehouse.write_frame("kpis.parameters", parameters_frame(settings))
        warehouse.write_frame("kpis.coverage", coverage_table(warehouse, settings, as_of))
        for model in load_models([*all_raw_tables(), *PYTHON_TABLES], sql_dir):
            counts[model.table] = warehouse.rebuild(model.table, model.sql)
    return counts
