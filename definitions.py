"""Dagster entry point: wiring only."""

from kpi_pipeline.config import load_config
from kpi_pipeline.defs import build_definitions

defs = build_definitions(load_config())
