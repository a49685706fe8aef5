"""The windows every KPI is aggregated over, and the targets in force per period.

Window kinds, per grain and period from history_start up to as-of:
- ``period``: the period from its first day up to as-of (all of it once closed);
- ``previous``: the previous period at the same elapsed share (like for like: the first 10
  days of last month when 10 of this month's 30 have passed), all of it once this one closed;
- ``last_year``: the same period a year earlier (for weeks: the same ISO week number of the
  previous year, none for a week 53 without a twin), at the same elapsed share;
- ``previous_full`` and ``last_year_full`` (open periods only): those periods whole, so that
  a unique count can be projected by how much last year's (or last period's) grew after the
  same elapsed share.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from connectors.registry import platforms
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.periods import (
    GRAINS,
    SNAPSHOT_GRAINS,
    iter_periods,
    label,
    parse_label,
    period_end,
    previous_start,
    same_period_last_year,
    share_of,
)


def comparison_windows(
    grain: str, start: dt.date, as_of: dt.date, week_start: str
) -> list[tuple[str, dt.date, dt.date]]:
    """(kind, first day, last day) of a period's comparison windows (see module docstring)."""
    end = period_end(grain, start)
    is_open = as_of < end
    share = ((min(end, as_of) - start).days + 1) / ((end - start).days + 1)
    out = []
    for kind, other in (
        ("previous", previous_start(grain, start, week_start)),
        ("last_year", same_period_last_year(grain, start, week_start)),
    ):
        if other is None:
            continue
        other_end = period_end(grain, other)
        out.append((kind, other, share_of(other, other_end, share) if is_open else other_end))
        if is_open:
            out.append((f"{kind}_full", other, other_end))
    return out


def calendar_windows(settings: Settings, as_of: dt.date) -> pd.DataFrame:
    """One row per grain x window kind x period (see module docstring)."""
    rows: list[dict[str, Any]] = []
    first = settings.history_start
    for grain in GRAINS:
        for start in iter_periods(grain, first, as_of, settings.week_start):
            end = period_end(grain, start)
            kinds = [("period", start, min(end, as_of))]
            if grain in SNAPSHOT_GRAINS:
                kinds += comparison_windows(grain, start, as_of, settings.week_start)
            for kind, w_start, w_end in kinds:
                if (
                    kind == "period"
                ):  # a period that starts before history_start: its covered part (partial)
                    w_start = max(w_start, first)
                elif w_start < first:
                    continue
                rows.append(
                    {
                        "business_id": settings.business_id,
                        "grain": grain,
                        "window_kind": kind,
                        "period_start": start,
                        "period_end": end,
                        "window_start": w_start,
                        "window_end": w_end,
                        "window_days": (w_end - w_start).days + 1,
                        "as_of": as_of,
                    }
                )
    return pd.DataFrame(rows)


def target_for(settings: Settings, kpi_id: str, grain: str, start: dt.date) -> float | None:
    """The target of a KPI for one period: a period-specific value, else the grain default."""
    spec = settings.targets.get(kpi_id, {}).get(grain)
    if spec is None:
        return None
    if not isinstance(spec, dict):
        return float(spec)
    for key, value in spec.items():
        if key != "default" and parse_label(grain, key, settings.week_start) == start:
            return float(value)
    return float(spec["default"]) if "default" in spec else None


def targets_frame(settings: Settings, as_of: dt.date) -> pd.DataFrame:
    """snapshots.targets: the targets in force for every period up to as-of."""
    rows = []
    for kpi in settings.kpis():
        for grain in SNAPSHOT_GRAINS:
            if grain not in settings.targets.get(kpi.id, {}):
                continue
            for start in iter_periods(grain, settings.history_start, as_of, settings.week_start):
                target = target_for(settings, kpi.id, grain, start)
                if target is not None:
                    rows.append(
                        {
                            "business_id": settings.business_id,
                            "kpi_id": kpi.id,
                            "grain": grain,
                            "period_start": start,
                            "period": label(grain, start, settings.week_start),
                            "target": target,
                        }
                    )
    columns = ["business_id", "kpi_id", "grain", "period_start", "period", "target"]
    return pd.DataFrame(rows, columns=columns)


def catalog_frame(settings: Settings) -> pd.DataFrame:
    """kpis.catalog: every KPI of this configuration."""
    return pd.DataFrame(
        [
            {
                "business_id": settings.business_id,
                "kpi_id": k.id,
                "label": k.label_in(settings.language),
                "domain": k.domain,
                "unit": k.unit,
                "direction": k.direction,
                "aggregation": k.aggregation,
                "description": k.description,
                "sources": ",".join(k.sources),
                "denominator_kpi": k.denominator_kpi,
                "dense": k.dense,
                "total": k.total,
                "share": k.share,
                "pacing": k.pacing,
                "cohort": k.cohort,
                "decimals": k.shown_decimals,  # the scorecard view rounds with it
            }
            for k in settings.kpis()
        ]
    )


def parameters_frame(settings: Settings) -> pd.DataFrame:
    """kpis.parameters: the settings SQL models need (the conversion window, the business
    currency, the kpi.yaml exchange rates ``fx_rate:<CUR>``, and what each platform's package
    declares in ``parameters``: Calendly's intro-call event types, HubSpot's lead stages)."""
    rows = [
        ("currency", settings.currency),
        ("conversion_window_days", str(settings.conversion_window_days)),
    ]
    rows += [
        (f"fx_rate:{currency}", repr(float(rate))) for currency, rate in sorted(settings.fx.items())
    ]
    for name, block in settings.enabled_sources().items():  # what each platform's SQL reads
        declared = platforms()[name].parameters
        rows += declared(block) if declared else []
    return pd.DataFrame(
        [{"business_id": settings.business_id, "name": n, "value": v} for n, v in rows],
        columns=["business_id", "name", "value"],
    )
