"""Dagster entry point: wiring only."""

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.orchestration.defs import build_definitions

defs = build_definitions(load_config())
