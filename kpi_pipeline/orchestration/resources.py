"""Thin Dagster resources."""

from __future__ import annotations

import dagster as dg

from kpi_pipeline.warehouse.database import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The pipeline's DuckDB file (env KPI_WAREHOUSE overrides kpi.yaml's path)."""

    path: str
    business_id: str

    def get(self) -> Warehouse:
        return Warehouse(self.path, self.business_id)
