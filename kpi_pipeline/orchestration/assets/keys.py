"""The one place that maps warehouse tables to asset keys and groups."""

from __future__ import annotations

import dagster as dg


def table_key(table: str) -> dg.AssetKey:
    """``raw.mailchimp__lists`` -> AssetKey(["raw", "mailchimp__lists"])."""
    schema, name = table.split(".", 1)
    return dg.AssetKey([schema, name])


def group_for(table: str) -> str:
    schema, name = table.split(".", 1)
    if schema == "raw":
        return name.split("__", 1)[0]
    return schema


REPORT_KEY = dg.AssetKey(["reports", "scorecard"])
PUBLISH_KEY = dg.AssetKey(["published", "analytics_duckdb"])
ALERTS_KEY = dg.AssetKey(["snapshots", "alerts"])
