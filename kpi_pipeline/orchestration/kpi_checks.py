"""One asset check per scored KPI on the snapshots: each KPI's verdict where Dagster users look
(the snapshots asset's Checks tab, the run's events), evaluated in the snapshots' own step.

Which period a check judges answers the owner's question "is this KPI where I want it?": the
period holding as-of of the KPI's grain (the first of month, week, quarter, year that kpi.yaml
gives it a target in; month without any), but while that period is ``too_early`` the last closed
one, so that on the 3rd of a month the checks say how last month ended. The figures judged are in
the check's metadata (``period``, ``grain``, ``judged``: which of the two it is).

A check passes when the KPI is on track or achieved, and when there is nothing to judge yet:
``too_early`` (even the last closed period is too early, such as a maturing cohort), ``no_target``
and ``partial`` (a period before history_start, shown but not scored) are no problem to act on.
It warns (severity WARN: nothing downstream waits for it) when the KPI is at risk, off track,
missed, or has no data (its ``status_reason`` says why).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.periods import period_start

if TYPE_CHECKING:
    import pandas as pd

    from kpi_pipeline.reporting.i18n import Formatter

JUDGED_GRAINS = ("month", "week", "quarter", "year")  # the first the KPI has a target in
PASSING = frozenset({"on_track", "achieved"})
NOT_JUDGED = frozenset({"too_early", "no_target", "partial"})  # pass: nothing to act on yet
FIGURES = ("actual", "target", "expected_to_date", "projected", "attainment")


def check_name(kpi_id: str) -> str:
    """The check of a KPI: ``kpi_revenue`` (prefixed, so no custom KPI meets another check)."""
    return f"kpi_{kpi_id}"


def is_kpi_check(asset_key: dg.AssetKey, name: str) -> bool:
    """A KPI's verdict (not a data problem: `kpi sync`'s progress leaves it to the scorecard)."""
    return asset_key.path[-2:] == ["snapshots", "kpi_snapshots"] and name.startswith("kpi_")


def judged_grain(settings: Settings, kpi_id: str) -> str:
    configured = settings.targets.get(kpi_id, {})
    return next((g for g in JUDGED_GRAINS if g in configured), "month")


def kpi_check_specs(settings: Settings, asset: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """A check per KPI the snapshots score: every KPI with a total of the configured sources
    (a KPI whose sources are absent is not scored, so it has no check)."""
    return [
        dg.AssetCheckSpec(
            check_name(kpi.id),
            asset=asset,
            description=(
                f"{kpi.label}: on track or achieved in the current {grain} "
                f"(the last closed {grain} while the current one is too early to judge); "
                "warns when at risk, off track, missed or without data."
            ),
        )
        for kpi in settings.kpis()
        if kpi.total
        for grain in [judged_grain(settings, kpi.id)]
    ]


@dataclass(frozen=True)
class Verdict:
    kpi_id: str
    grain: str
    row: dict[str, Any]  # the snapshot row judged
    judged: str  # "current period" or "last closed period"

    @property
    def status(self) -> str:
        return str(self.row["status"])

    @property
    def passed(self) -> bool:
        return self.status in PASSING or self.status in NOT_JUDGED


def verdicts(rows: pd.DataFrame, settings: Settings, as_of: dt.date) -> list[Verdict]:
    """The snapshot row each KPI's check judges (KPIs without a row of their grain: none)."""
    out = []
    for kpi in (k for k in settings.kpis() if k.total):
        grain = judged_grain(settings, kpi.id)
        mine = rows[(rows["kpi_id"] == kpi.id) & (rows["grain"] == grain)]
        if mine.empty:
            continue
        mine = mine.sort_values("period_start")
        start = period_start(grain, as_of, settings.week_start)
        current = mine[mine["period_start"] == start]
        row, judged = (current if not current.empty else mine).iloc[-1], "current period"
        if row["status"] == "too_early":
            closed = mine[(mine["period_start"] < row["period_start"]) & mine["is_closed"]]
            if not closed.empty:
                row, judged = closed.iloc[-1], "last closed period"
        out.append(Verdict(kpi.id, grain, row.to_dict(), judged))
    return out


def _value(value: Any) -> Any:
    """A snapshot's value as Dagster metadata: None for a missing one, plain Python types."""
    import pandas as pd  # late: pandas (see assets/snapshots.py)

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    )


def check_results(found: Iterable[Verdict], selected: set[str]) -> list[dg.AssetCheckResult]:
    """A result per verdict whose check the run selected (checks not selected are not run)."""
    results = []
    for v in found:
        if check_name(v.kpi_id) not in selected:
            continue
        row = v.row
        reason = _value(row.get("status_reason"))
        metadata: dict[str, Any] = {name: _value(row.get(name)) for name in FIGURES}
        metadata.update(
            status=v.status,
            status_reason=reason or "",
            period=str(row["period"]),
            grain=v.grain,
            judged=v.judged,
            is_final=bool(row["is_final"]),
            is_closed=bool(row["is_closed"]),
            period_start=str(row["period_start"]),
            period_end=str(row["period_end"]),
        )
        words = f"{v.grain} {row['period']} ({v.judged}): {v.status.replace('_', ' ')}"
        results.append(
            dg.AssetCheckResult(
                check_name=check_name(v.kpi_id),
                passed=v.passed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=metadata,
                description=f"{words}: {reason}" if reason else words,
            )
        )
    return results


def status_line(found: list[Verdict], fmt: Formatter) -> str:
    """The checks' verdicts counted per period judged, each count beside its period:
    "Month November 2026: 2 missed · 9 achieved; Week 46 (9 Nov 2026): 1 on track"."""
    from kpi_pipeline.reporting.model import status_counts  # late: pandas

    groups: dict[tuple[str, dt.date, str], list[str]] = {}
    for v in found:
        start = v.row["period_start"]
        groups.setdefault((v.grain, start, str(v.row["period"])), []).append(v.status)
    parts = [
        f"{fmt.view_title(grain, start, period)}: {fmt.summary(status_counts(statuses))}"
        for (grain, start, period), statuses in sorted(
            groups.items(), key=lambda g: (-len(g[1]), g[0][0], g[0][1])
        )
    ]
    return "; ".join(parts) or fmt.summary({})
