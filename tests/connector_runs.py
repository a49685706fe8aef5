"""Connector clients on the session sandbox, shared by the contract and fault suites and the
tests of the marketing platforms (test_google_connectors.py, test_meta_connectors.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.registry import SOURCES
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sources.windows import stream_context
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF

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


def client(sandbox, module, policy, **overrides):
    c = module.connect({**sandbox.settings_for(module.PLATFORM), **overrides})
    c.policy = policy
    return c


def ctx(snapshot=AS_OF):
    context = stream_context(SETTINGS, AS_OF)
    context.snapshot_date = snapshot
    context.today = AS_OF + dt.timedelta(
        days=1
    )  # the session sandbox's clock: its world runs through AS_OF
    return context


def load(sandbox, module, stream, policy, window, wh=None, context=None, **overrides):
    wh = wh or Warehouse(":memory:", "t")
    result = load_stream(
        module.STREAMS[stream],
        client(sandbox, module, policy, **overrides),
        window,
        context or ctx(),
        wh,
    )
    return wh, result
