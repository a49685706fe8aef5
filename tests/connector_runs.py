"""Connector clients on the session sandbox, shared by the contract and fault suites."""

from __future__ import annotations

from pathlib import Path

from connectors.registry import SOURCES
from kpi_pipeline.config.settings import load_config

SETTINGS = load_config("kpi.yaml")
MANUAL_CSV = Path(__file__).resolve().parent.parent / "data" / "manual_metrics.csv"


def make_client(sandbox, source, policy):
    if source == "manual":
        settings = {"path": str(MANUAL_CSV), "kpi_ids": [c.id for c in SETTINGS.custom_kpis]}
    else:
        # generous: only the faults a test injects may make a request fail, so retries count exactly
        settings = {**sandbox.settings_for(source), "timeout": 60}
    client = SOURCES[source][0](settings)
    client.policy = policy
    return client


def content(wh, spec):
    cols = ", ".join(
        ["business_id", *(c.name for c in spec.columns), "_account", "_record::varchar"]
    )
    return sorted(wh.query(f"select {cols} from raw.{spec.table}"), key=repr)
