"""What every table and column of the warehouse means, in one place: the text the Dagster UI shows
as an asset's column descriptions and the published copy's ``COMMENT ON`` (README "For analysts").

A raw table is described by its stream's declaration (``connectors/<platform>``: the stream's
description, each column's API field), a model by the comment heading its SQL file, and columns by
the tables below: first the table's own entry, then the names every table shares.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from connectors.registry import platforms, streams
from kpi_pipeline.kpi.catalog import sql_dir
from kpi_pipeline.sql.analytics_views import VIEWS
from kpi_pipeline.sql.models import platform_folders

_SNAPSHOT = {
    "kpi_id": "the KPI's id (kpis.catalog; the scorecard view adds its label, domain and unit)",
    "grain": "week, month, quarter or year",
    "period": "the period's label: 2026-11 (month), 2026-Q4, 2026-W48 (ISO week), 2026 (year)",
    "as_of": "the last day whose data counted when the row was computed",
    "actual": "the value so far (the whole period once it has closed)",
    "target": "the target in force for the period (kpi.yaml targets), null without one",
    "expected_to_date": "where a paced KPI should be by as_of: target x elapsed share",
    "projected": "where the period is projected to end (projection_method says how)",
    "projection_method": "linear, history (unique counts), cohort (conversions) or none",
    "attainment": "projected (closed: actual) against target; 1 = on target, in the KPI's "
    "direction",
    "status": "on_track, at_risk, off_track, too_early, achieved, missed, no_target, no_data, "
    "partial",
    "status_reason": "why: the stream and reason of a no_data, the span of a partial, the CSV's "
    "last date",
    "previous_actual": "the previous period at the same elapsed share (all of it once closed)",
    "change_pct": "actual against previous_actual, as a fraction (plain arithmetic)",
    "last_year_actual": "the same period last year (a week: the same ISO week number)",
    "elapsed_share": "the share of the period's days up to as_of",
    "is_closed": "the period ended on or before as_of",
    "is_final": "closed, past every source's lookback and fully covered: it never changes again",
    "computed_at": "when the row was computed (UTC)",
}

TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "raw._loads": (
        "One row per stream load: which days it replaced, as of when, rows and HTTP requests",
        {
            "source": "the platform (kpi.yaml sources key)",
            "stream": "the platform's stream",
            "window_start": "the first day the load replaced",
            "window_end": "the last day the load replaced",
            "rows": "rows the load wrote",
            "requests": "HTTP requests it made",
            "loaded_at": "when it was written (UTC)",
        },
    ),
    "kpis.catalog": (
        "One row per KPI of this business: its label, domain, unit, direction, aggregation, "
        "formula in words and sources",
        {
            "label": "the KPI's name in the report language",
            "domain": "what part of the business it measures (marketing, sales, ...)",
            "unit": "count, ratio (a fraction) or currency (the business currency)",
            "direction": "higher or lower: which way is better",
            "aggregation": "sum, ratio, last (a level at the period's end) or distinct (unique "
            "counts)",
            "description": "the formula in words",
            "sources": "the platforms it reads, comma-separated",
            "denominator_kpi": "for a ratio: the KPI its denominator counts",
            "dense": "its days are known only where the platform reported them",
            "total": "has a total row (dimension null) in kpis.kpi_values",
            "share": "a share of a total (traffic share per channel)",
            "pacing": "how an open period is projected: linear, history, cohort or none",
            "cohort": "a conversion cohort followed over conversion_window_days",
            "decimals": "decimals the report shows (a ratio: of its percentage)",
        },
    ),
    "kpis.parameters": (
        "Settings the SQL models read: currency, conversion window, fx rates, event types, "
        "lead stages",
        {"name": "the setting's name", "value": "its value, as text"},
    ),
    "kpis.coverage": (
        "One row per KPI and day its sources covered: there a count with no events is 0, not "
        "unknown",
        {"day": "a business-local day the KPI's input streams all loaded"},
    ),
    "kpis.calendar_windows": (
        "The exact date ranges unique counts are asked for: every period and its like-for-like "
        "windows",
        {},
    ),
    "snapshots.kpi_snapshots": (
        "One row per KPI, grain and period: actual, target, projection, status and comparisons "
        "as of the latest sync",
        _SNAPSHOT,
    ),
    "snapshots.kpi_snapshot_history": (
        "The snapshots of every as-of the pipeline ran (append-only): kpi report --as-of reads it",
        _SNAPSHOT,
    ),
    "snapshots.targets": (
        "The target in force per KPI, grain and period (from kpi.yaml)",
        {"target": "the target value (a ratio as a fraction)"},
    ),
    "portfolio.businesses": (
        "The portfolio copy only: one row per business of the portfolio, whether it is in this "
        "copy and why not",
        {
            "business": "the business's name (kpi.yaml business)",
            "timezone": "its timezone: every date of its rows is local to it",
            "currency": "its currency: amounts are never added across businesses",
            "sources": "the platforms its kpi.yaml configures",
            "in_copy": "its published tables are in this copy",
            "note": "why it is not in the copy (never synced, unreadable copy)",
            "copied_at": "when this copy was written (UTC)",
        },
    ),
    "snapshots.alerts": (
        "One row per KPI turn announced to the alert webhook",
        {
            "status": "the status it turned to",
            "announced": "what was announced",
            "as_of": "the as-of of the sync that saw the turn",
            "sent_at": "when the alert was posted (UTC), null if not sent",
        },
    ),
}

SHARED = {
    "business_id": "the business: the slug of kpi.yaml's business name",
    "kpi_id": "the KPI's id (kpis.catalog)",
    "grain": "day, week, month, quarter or year",
    "period_start": "the period's first day (business-local)",
    "period_end": "the period's last day (business-local)",
    "period": _SNAPSHOT["period"],
    "dimension": "the breakdown (channel, network, campaign, product), null for the total",
    "dimension_value": "the breakdown's value, null for the total",
    "numerator": "the sum the value is made of (a ratio's top)",
    "denominator": "a ratio's bottom (1 for a count)",
    "value": "the KPI's value: numerator / denominator, null when there is nothing to divide by",
    "covered_from": "the first day the value covers (a partial period)",
    "is_partial": "the period starts before the data can (history_start or a platform's limit)",
    "day": "the business-local day",
    "date": "the business-local day",
    "as_of": "the last day whose data counted",
    "_record": "the whole API record as JSON (e-mail addresses removed)",
    "_account": "the account it came from: list, property, ad account...",
    "_synced_at": "when the pipeline fetched it (UTC)",
    "person_key": "a salted hash of the normalised e-mail: the same person across platforms, "
    "never the address",
    "currency": "the amount's currency (ISO code)",
    "snapshot_date": "the day a point-in-time figure stands for",
    "window_start": "the range's first day",
    "window_end": "the range's last day",
}


def _header(sql: str) -> str:
    """The comment lines heading a model's SQL, as one sentence."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(lines)


@lru_cache(maxsize=1)
def _model_files() -> dict[str, Path]:
    folders = [*platform_folders(), *sorted(p for p in sql_dir().iterdir() if p.is_dir())]
    return {f"{p.parent.name}.{p.stem}": p for folder in folders for p in folder.glob("*.sql")}


@lru_cache(maxsize=1)
def _raw_specs() -> dict[str, object]:
    return {f"raw.{spec.table}": spec for name in platforms() for spec in streams(name).values()}


def table_description(table: str) -> str:
    """What one row of ``table`` (``schema.name``) is."""
    if table in VIEWS:
        return VIEWS[table][1]
    if table in TABLES:
        return TABLES[table][0]
    spec = _raw_specs().get(table)
    if spec is not None:
        return f"{spec.description} (raw, as the API sent it)"  # type: ignore[attr-defined]
    if table in ("kpis.kpi_daily", "kpis.kpi_ranges"):
        kind = "daily facts" if table.endswith("daily") else "exact-range unique counts"
        return f"The {kind} every KPI is aggregated from, generated from kpis/catalog.yml"
    path = _model_files().get(table)
    header = _header(path.read_text()) if path is not None else ""
    where = f" ({_shown(path)})" if path else ""
    return (header or f"Built by the SQL model {table}") + where


def column_description(table: str, column: str) -> str:
    """What ``column`` of ``table`` holds."""
    if table in VIEWS and column in VIEWS[table][2]:
        return VIEWS[table][2][column]
    own = TABLES.get(table, ("", {}))[1]
    if column in own:
        return own[column]
    if column in SHARED:
        return SHARED[column]
    spec = _raw_specs().get(table)
    if spec is not None:
        for col in spec.columns:  # type: ignore[attr-defined]
            if col.name == column:
                if col.from_account:
                    return SHARED["_account"]
                if col.derive is not None:
                    return f"{col.type}, derived from the API record (connectors/{spec.source})"  # type: ignore[attr-defined]
                return f"{col.type}: the API record's {col.path or col.name}"
    path = _model_files().get(table)
    made = f"; {table} is made by {_shown(path)}" if path is not None else ""
    return _by_name(column) + made


def _shown(path: Path) -> str:
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"


def _by_name(column: str) -> str:
    """What the project's naming conventions say a column holds (README "For analysts")."""
    words = column.replace("_", " ")
    head, _, rest = column.partition("_")
    rest_words = rest.replace("_", " ")
    if head == "count" and rest:
        return f"number of {rest_words}"
    if head == "amount":
        return f"{words}, in the business currency (DECIMAL)"
    if head == "is" and rest:
        return f"true when {rest_words}"
    if column.endswith("_date"):
        return f"{words}: a business-local date"
    if column.endswith(("_at", "_time")):
        return f"{words}: a timestamp (UTC)"
    if column.endswith("_id"):
        return f"{words}: the platform's id"
    if column.endswith("_key"):
        return f"{words}: a salted key, never the e-mail itself"
    return words


def table_columns(table: str, columns: list[str]) -> dict[str, str]:
    """Each of ``columns`` of ``table`` with its description."""
    return {c: column_description(table, c) for c in columns}
