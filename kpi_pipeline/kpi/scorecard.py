"""Snapshot arithmetic: pacing, projection, status, comparisons, closed and final periods.

``assess`` is the pure rule (README.md#what-the-numbers-mean); ``build_snapshots`` applies it
to every KPI x grain x period from the window values, the targets and what the sources covered.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.calendar import target_for
from kpi_pipeline.kpi.catalog import KpiDef
from kpi_pipeline.kpi.cohorts import Cohorts, is_maturing
from kpi_pipeline.kpi.coverage import Coverage
from kpi_pipeline.kpi.periods import SNAPSHOT_GRAINS, iter_periods, label, period_end
from kpi_pipeline.sources.windows import max_lookback

_EPS = 1e-9
SNAPSHOT_COLUMNS = [
    "business_id",
    "kpi_id",
    "grain",
    "period",
    "period_start",
    "period_end",
    "as_of",
    "actual",
    "target",
    "expected_to_date",
    "projected",
    "projection_method",
    "attainment",
    "status",
    "status_reason",
    "previous_actual",
    "change_pct",
    "last_year_actual",
    "elapsed_share",
    "is_closed",
    "is_final",
    "computed_at",
]
NOTHING_TO_DIVIDE = "nothing to divide by"
NO_VALUE = "no value for this period (before the history the platform keeps, or not loaded yet)"
PARTIAL = "partial"  # status of a period that starts before what can be had: shown, not scored


@dataclass(frozen=True)
class Assessment:
    expected_to_date: float | None
    projected: float | None
    attainment: float | None
    status: str
    projection_method: str = "none"


def _meets(value: float, target: float, direction: str, slack: float = 0.0) -> bool:
    tol = _EPS * max(1.0, abs(target))
    if direction == "higher":
        return value >= target * (1 - slack) - tol
    return value <= target * (1 + slack) + tol


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def assess(
    *,
    pacing: str,
    direction: str,
    actual: float | None,
    target: float | None,
    elapsed_share: float,
    is_closed: bool,
    stale: bool = False,
    growth: float | None = None,
    at_risk_within: float = 0.10,
    too_early_before: float = 0.20,
) -> Assessment:
    """Status of one KPI for one period (README.md#what-the-numbers-mean, "Pacing" and "Final").

    Args:
        pacing: ``linear``, ``history``, ``cohort`` or ``none`` (:attr:`KpiDef.pacing`).
        elapsed_share: days up to as-of / days in the period (1.0 once closed).
        is_closed: the value can no longer grow: the period has ended (and for a cohort, the
            conversion window of its youngest member has passed too).
        stale: a source the KPI needs did not cover the period up to as-of.
        growth: for ``history`` pacing, final / to-date at the same elapsed share of the same
            period last year (else the previous period); None falls back to linear. For
            ``cohort`` pacing, final / to-date at the same age of the matured cohorts; None
            (no matured cohort) reads ``too_early``, never ``missed`` for want of time.
    """
    if actual is None or _missing(actual):
        return Assessment(None, None, None, "no_data")
    method = "none" if is_closed else pacing
    if method == "history" and (growth is None or growth <= 0):
        method = "linear"
    if method == "cohort" and (growth is None or growth <= 0):  # nothing to project by yet
        status = "no_data" if stale else "no_target" if target is None else "too_early"
        return Assessment(None, None, None, status, "none")
    if method == "linear" and elapsed_share > 0:
        projected, expected = (
            actual / elapsed_share,
            None if target is None else target * elapsed_share,
        )
    elif method in ("history", "cohort"):
        assert growth is not None  # None or <= 0 went to linear or returned above
        projected, expected = actual * growth, None if target is None else target / growth
    else:
        method, projected, expected = "none", actual, target
    if target is None:
        return Assessment(None, projected, None, "no_data" if stale else "no_target", method)
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
    return Assessment(expected, projected, attainment, status, method)


def source_lookbacks(settings: Settings) -> dict[str, int]:
    """The largest re-fetch window of each enabled source, in days."""
    return {name: max_lookback(settings, [name]) for name in settings.enabled_sources()}


def build_snapshots(
    settings: Settings,
    as_of: dt.date,
    window_values: pd.DataFrame,
    coverage: Coverage,
    previous_final: pd.DataFrame | None = None,
    computed_at: dt.datetime | None = None,
    cohorts: Cohorts | None = None,
) -> pd.DataFrame:
    """snapshots.kpi_snapshots for as-of: every KPI x snapshot grain x period (totals only).

    Args:
        window_values: kpis.kpi_window_values (dimension null rows are used; a row whose value
            is null is a ratio with nothing to divide by).
        coverage: what each source covered.
        previous_final: rows already final in kpi_snapshots; they are kept unchanged (except
            no_data rows, which a backfill may still fill).
        cohorts: the conversion cohorts as of as-of, to project the maturing ones by (without
            them a maturing cohort reads ``too_early``).
    """
    computed_at = computed_at or dt.datetime.now(dt.timezone.utc)
    lookbacks = source_lookbacks(settings)
    totals = (
        window_values[window_values["dimension"].isna()] if len(window_values) else window_values
    )
    index: dict[tuple[str, str, str, dt.date], float | None] = {}
    for row in totals.itertuples(index=False):
        index[(row.kpi_id, row.grain, row.window_kind, _date(row.period_start))] = (
            None if _missing(row.value) else float(row.value)
        )
    final_keys: set[tuple[str, str, dt.date]] = set()
    rows: list[dict[str, Any]] = []
    if previous_final is not None and len(previous_final):
        for rec in previous_final.to_dict("records"):
            if rec["status"] == "no_data":
                continue  # never frozen as no_data: a backfill may still bring the data
            final_keys.add((rec["kpi_id"], rec["grain"], _date(rec["period_start"])))
            rows.append(rec)
    for kpi in settings.kpis():
        if not kpi.total:
            continue  # a per-dimension KPI (traffic_share) has no total to score
        for grain in SNAPSHOT_GRAINS:
            for start in iter_periods(grain, settings.history_start, as_of, settings.week_start):
                if (kpi.id, grain, start) in final_keys:
                    continue
                rows.append(
                    _row(
                        settings,
                        kpi,
                        grain,
                        start,
                        as_of,
                        index,
                        coverage,
                        lookbacks,
                        computed_at,
                        cohorts,
                    )
                )
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def _date(value: Any) -> dt.date:
    return value.date() if isinstance(value, (pd.Timestamp, dt.datetime)) else value


def _growth(index: Mapping, kpi: KpiDef, grain: str, start: dt.date) -> float | None:
    """final / to-date at the same elapsed share: last year's, else the previous period's."""
    for kind in ("last_year", "previous"):
        full, to_date = (
            index.get((kpi.id, grain, f"{kind}_full", start)),
            index.get((kpi.id, grain, kind, start)),
        )
        if full is not None and to_date:
            return full / to_date
    return None


def _row(
    settings: Settings,
    kpi: KpiDef,
    grain: str,
    start: dt.date,
    as_of: dt.date,
    index: Mapping,
    coverage: Coverage,
    lookbacks: Mapping[str, int],
    computed_at: dt.datetime,
    cohorts: Cohorts | None = None,
) -> dict[str, Any]:
    end = period_end(grain, start)
    is_closed = as_of >= end
    through = min(end, as_of)
    verdict = coverage.judge(kpi.id, kpi.aggregation, start, through)
    lagging = (
        verdict.through is not None and verdict.through < through
    )  # a CSV typed in up to a day before
    seen = min(verdict.through or through, through)  # lagging: the last day typed in
    elapsed = ((seen - start).days + 1) / ((end - start).days + 1)
    settle = max((lookbacks.get(s, 0) for s in kpi.sources), default=0)
    if kpi.cohort:  # a conversion can still happen until the window has passed
        settle = max(settle, settings.conversion_window_days)
    key = (kpi.id, grain, "period", start)
    actual = index.get(key)
    previous = index.get((kpi.id, grain, "previous", start))
    last_year = index.get((kpi.id, grain, "last_year", start))
    target = target_for(settings, kpi.id, grain, start)
    # a cohort is still maturing (never achieved or missed)
    # until its youngest member's window has passed
    maturing = kpi.cohort and is_maturing(end, as_of, settings.conversion_window_days)
    growth = _growth(index, kpi, grain, start) if kpi.pacing == "history" else None
    if maturing and cohorts is not None:
        growth = cohorts.factor(kpi.id, start, end)
    result = assess(
        pacing=kpi.pacing,
        direction=kpi.direction,
        actual=actual,
        target=target,
        elapsed_share=elapsed,
        is_closed=is_closed and not lagging and not maturing,
        stale=verdict.uncovered is not None,
        growth=growth,
        at_risk_within=settings.status.at_risk_within,
        too_early_before=settings.status.too_early_before,
    )
    reason = verdict.note
    if result.status == "no_data":
        if verdict.uncovered:
            reason = verdict.uncovered
        else:
            reason = NOTHING_TO_DIVIDE if key in index else NO_VALUE
            unrecorded = [] if key in index else coverage.unrecorded(kpi.id, through)
            if unrecorded:  # a level only the platform's "now" gives, and now is not this day
                reason = (
                    f"{unrecorded[0][0]}/{unrecorded[0][1]} is only reported as of today: nothing "
                    f"was recorded for {through} (a back-dated run cannot record it)"
                )
    elif (
        verdict.partial_from is not None
    ):  # shown for its covered part, never scored against the whole
        result = Assessment(None, None, None, PARTIAL)
        reason = f"{PARTIAL}: {verdict.note}"
    change = (
        (actual - previous) / abs(previous)
        if actual is not None and previous and not lagging
        else None
    )
    return {
        "business_id": settings.business_id,
        "kpi_id": kpi.id,
        "grain": grain,
        "period": label(grain, start, settings.week_start),
        "period_start": start,
        "period_end": end,
        "as_of": as_of,
        "actual": actual,
        "target": target,
        "expected_to_date": result.expected_to_date,
        "projected": result.projected,
        "projection_method": result.projection_method,
        "attainment": result.attainment,
        "status": result.status,
        "status_reason": reason,
        "previous_actual": None if lagging else previous,
        "change_pct": change,
        "last_year_actual": last_year,
        "elapsed_share": elapsed,
        "is_closed": is_closed,
        "is_final": (
            is_closed
            and verdict.uncovered is None
            and verdict.partial_from is None
            and not lagging
            and as_of >= end + dt.timedelta(days=settle)
        ),
        "computed_at": computed_at,
    }
