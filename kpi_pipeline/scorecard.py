"""Snapshot arithmetic: pacing, projection, status, comparisons, closed and final periods.

``assess`` is the pure rule (DESIGN §5); ``build_snapshots`` applies it to every KPI x grain
x period from the window values, the targets and the sources' coverage.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from kpi_pipeline.calendar import target_for
from kpi_pipeline.catalog import KpiDef
from kpi_pipeline.config import Settings
from kpi_pipeline.periods import SNAPSHOT_GRAINS, iter_periods, label, period_end

_EPS = 1e-9
SNAPSHOT_COLUMNS = [
    "business_id", "kpi_id", "grain", "period", "period_start", "period_end", "as_of", "actual", "target",
    "expected_to_date", "projected", "attainment", "status", "previous_actual", "change_pct",
    "last_year_actual", "elapsed_share", "is_closed", "is_final", "computed_at",
]


@dataclass(frozen=True)
class Assessment:
    expected_to_date: float | None
    projected: float | None
    attainment: float | None
    status: str


def _meets(value: float, target: float, direction: str, slack: float = 0.0) -> bool:
    tol = _EPS * max(1.0, abs(target))
    if direction == "higher":
        return value >= target * (1 - slack) - tol
    return value <= target * (1 + slack) + tol


def assess(*, aggregation: str, direction: str, actual: float | None, target: float | None,
           elapsed_share: float, is_closed: bool, stale: bool = False,
           at_risk_within: float = 0.10, too_early_before: float = 0.20) -> Assessment:
    """Status of one KPI for one period (DESIGN §5 "Open periods" / "Closed periods").

    Args:
        elapsed_share: days up to as-of / days in the period (1.0 once closed).
        stale: a source the KPI needs has not delivered data through the period's as-of day.
    """
    if actual is None or (isinstance(actual, float) and math.isnan(actual)):
        return Assessment(None, None, None, "no_data")
    # counts that accumulate over the period are paced: sums, and unique counts (visitors), whose
    # to-date value can only grow towards the period's (a linear pace slightly flatters them)
    pace = aggregation in ("sum", "distinct") and not is_closed
    projected = actual / elapsed_share if pace and elapsed_share > 0 else actual
    if target is None:
        return Assessment(None, projected, None, "no_data" if stale else "no_target")
    expected = target * elapsed_share if pace else target
    if direction == "higher":
        attainment = projected / target if target else None
    else:
        attainment = target / projected if projected else None
    if stale:
        status = "no_data"
    elif is_closed:
        status = "achieved" if _meets(actual, target, direction) else "missed"
    elif elapsed_share < too_early_before - _EPS:
        status = "too_early"
    elif _meets(projected, target, direction):
        status = "on_track"
    elif _meets(projected, target, direction, at_risk_within):
        status = "at_risk"
    else:
        status = "off_track"
    return Assessment(expected, projected, attainment, status)


def source_lookbacks(settings: Settings) -> dict[str, int]:
    """The largest re-fetch window of each enabled source, in days."""
    from kpi_pipeline.runtime import max_lookback

    return {name: max_lookback(settings, [name]) for name in settings.enabled_sources()}


def build_snapshots(
    settings: Settings,
    as_of: dt.date,
    window_values: pd.DataFrame,
    coverage: Mapping[str, dt.date],
    previous_final: pd.DataFrame | None = None,
    computed_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """snapshots.kpi_snapshots for as-of: every KPI x snapshot grain x period (totals only).

    Args:
        window_values: kpis.kpi_window_values (dimension null rows are used).
        coverage: per source, the last day its streams have all been loaded through.
        previous_final: rows already final in kpi_snapshots; they are kept unchanged.
    """
    computed_at = computed_at or dt.datetime.now(dt.timezone.utc)
    lookbacks = source_lookbacks(settings)
    totals = window_values[window_values["dimension"].isna()] if len(window_values) else window_values
    index: dict[tuple[str, str, str, dt.date], float] = {}
    periods: dict[str, set[tuple[dt.date, dt.date]]] = {g: set() for g in SNAPSHOT_GRAINS}
    for row in totals.itertuples(index=False):
        index[(row.kpi_id, row.grain, row.window_kind, _date(row.period_start))] = float(row.value)
    for grain in SNAPSHOT_GRAINS:
        for start in iter_periods(grain, settings.history_start, as_of, settings.week_start):
            periods[grain].add((start, period_end(grain, start)))
    final_keys: set[tuple[str, str, dt.date]] = set()
    rows: list[dict[str, Any]] = []
    if previous_final is not None and len(previous_final):
        for rec in previous_final.to_dict("records"):
            final_keys.add((rec["kpi_id"], rec["grain"], _date(rec["period_start"])))
            rows.append(rec)
    for kpi in settings.kpis():
        if not kpi.total:
            continue  # a per-dimension KPI (traffic_share) has no total to score
        for grain, spans in periods.items():
            for start, end in sorted(spans):
                if (kpi.id, grain, start) in final_keys:
                    continue
                rows.append(_row(settings, kpi, grain, start, end, as_of, index, coverage, lookbacks, computed_at))
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def _date(value: Any) -> dt.date:
    return value.date() if isinstance(value, (pd.Timestamp, dt.datetime)) else value


def _row(settings: Settings, kpi: KpiDef, grain: str, start: dt.date, end: dt.date, as_of: dt.date,
         index: Mapping, coverage: Mapping[str, dt.date], lookbacks: Mapping[str, int],
         computed_at: dt.datetime) -> dict[str, Any]:
    is_closed = as_of >= end
    through = min(end, as_of)
    elapsed = ((through - start).days + 1) / ((end - start).days + 1)
    stale = any(coverage.get(s) is None or coverage[s] < through for s in kpi.sources)
    lookback = max((lookbacks.get(s, 0) for s in kpi.sources), default=0)
    is_final = as_of >= end + dt.timedelta(days=lookback)
    actual = index.get((kpi.id, grain, "period", start))
    previous = index.get((kpi.id, grain, "previous", start))
    last_year = index.get((kpi.id, grain, "last_year", start))
    target = target_for(settings, kpi.id, grain, start)
    result = assess(aggregation=kpi.aggregation if kpi.pace else "ratio", direction=kpi.direction, actual=actual, target=target,
                    elapsed_share=elapsed, is_closed=is_closed, stale=stale,
                    at_risk_within=settings.status.at_risk_within,
                    too_early_before=settings.status.too_early_before)
    change = (actual - previous) / abs(previous) if actual is not None and previous else None
    return {
        "business_id": settings.business_id, "kpi_id": kpi.id, "grain": grain,
        "period": label(grain, start, settings.week_start), "period_start": start, "period_end": end,
        "as_of": as_of, "actual": actual, "target": target, "expected_to_date": result.expected_to_date,
        "projected": result.projected, "attainment": result.attainment, "status": result.status,
        "previous_actual": previous, "change_pct": change, "last_year_actual": last_year,
        "elapsed_share": elapsed, "is_closed": is_closed, "is_final": is_final and is_closed,
        "computed_at": computed_at,
    }
