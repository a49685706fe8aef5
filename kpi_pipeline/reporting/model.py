"""The scorecard as data: per view (week, month, quarter, year) the KPIs by domain, each with its
snapshot, its last 12 periods, and the breakdown of a dimension; plus the sources' freshness.

Everything here reads ``snapshots.kpi_snapshots`` (and ``kpis.kpi_values`` for breakdowns) and
computes nothing new about a KPI: the numbers shown are the snapshot's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.catalog import DOMAINS, KpiDef
from kpi_pipeline.kpi.coverage import LOADED_THROUGH_SQL, MANUAL_THROUGH_SQL, through_from_loads
from kpi_pipeline.kpi.periods import label, period_start
from kpi_pipeline.reporting.change import Change, compare
from kpi_pipeline.reporting.i18n import STATUS_ORDER, missing

TREND_PERIODS = 12
REPORT_GRAINS = {
    "html": ("month", "quarter", "year")
}  # the views by format; others: DEFAULT_GRAINS
DEFAULT_GRAINS = ("month", "quarter")
JSON_VERSION = 1
VALUE_FIELDS = (
    "actual",
    "target",
    "expected_to_date",
    "projected",
    "previous_actual",
    "last_year_actual",
)
BREAKDOWN_TOP = 5


@dataclass
class Point:
    period: str
    actual: float | None
    target: float | None
    projected: float | None = None  # an open period: where it is projected to end


@dataclass
class Card:
    """One KPI in one period, as the snapshot has it."""

    kpi: KpiDef
    grain: str
    start: dt.date
    end: dt.date
    period: str
    snap: dict[str, Any]
    history: list[Point] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:  # card.actual, card.status... from the snapshot
        snap = self.__dict__.get("snap", {})
        if name in snap:
            value = snap[name]
            return (
                None
                if name in VALUE_FIELDS + ("change_pct", "attainment") and missing(value)
                else value
            )
        raise AttributeError(name)

    @property
    def reason(self) -> str | None:
        """Why the status is no_data (the snapshot's status_reason), else None."""
        reason = self.snap.get("status_reason")
        return reason if isinstance(reason, str) and reason else None

    @property
    def change_last_year(self) -> float | None:
        actual, last = self.actual, self.last_year_actual
        return (actual - last) / abs(last) if actual is not None and last else None

    @property
    def vs_previous(self) -> Change:
        """The change against the previous period, as shown (a tiny base reads "from N",
        not +800%)."""
        return compare(self.kpi, self.actual, self.previous_actual, self.change_pct)

    @property
    def vs_last_year(self) -> Change:
        """The change against the same period last year, as shown."""
        return compare(self.kpi, self.actual, self.last_year_actual, self.change_last_year)

    @property
    def decimals(self) -> int:
        """The KPI's shown decimals, or up to two more when the actual and the target would
        otherwise read the same while they differ (an email click rate of 5.98% missing a target of
        6.0%)."""
        base, actual, target = self.kpi.shown_decimals, self.actual, self.target
        if actual is None or target is None or actual == target:
            return base
        scale = 100 if self.kpi.unit == "ratio" else 1
        return next(
            (
                d
                for d in range(base, base + 2)
                if round(actual * scale, d) != round(target * scale, d)
            ),
            base + 2,
        )

    @property
    def progress(self) -> float | None:
        """actual / target: how much of the target the period reached so far."""
        return self.actual / self.target if self.actual is not None and self.target else None

    @property
    def expected_share(self) -> float | None:
        return (
            self.expected_to_date / self.target
            if self.expected_to_date is not None and self.target
            else None
        )

    def good(self, change: Change | float | None) -> bool | None:
        """Whether a change is good news in this KPI's direction."""
        if isinstance(change, Change):  # over a tiny base the percentage is not shown: its sign is
            change = change.pct if change.basis == "pct" else change.delta
        if change is None or abs(change) < 0.0005:
            return None
        return (change > 0) == (self.kpi.direction == "higher")


@dataclass
class Section:
    domain: str
    cards: list[Card]

    def counts(self) -> dict[str, int]:
        return status_counts(c.status for c in self.cards)


@dataclass
class View:
    grain: str
    start: dt.date
    period: str
    sections: list[Section]

    @property
    def cards(self) -> list[Card]:
        return [c for s in self.sections for c in s.cards]

    def counts(self) -> dict[str, int]:
        return status_counts(c.status for c in self.cards)


@dataclass
class Breakdown:
    kpi: KpiDef
    dimension: str
    rows: list[tuple[str, float]]


@dataclass
class Scorecard:
    business: str
    as_of: dt.date
    demo: bool
    currency: str
    views: list[View]
    freshness: dict[str, dt.date | None]
    breakdowns: dict[str, list[Breakdown]] = field(default_factory=dict)  # grain -> breakdowns
    moment: Any = None  # reporting.moment.Moment: the first screen (reporting.moment.load)

    @property
    def cards(self) -> list[Card]:
        return [c for v in self.views for c in v.cards]


def status_counts(statuses: Any) -> dict[str, int]:
    """Counts per status, the worst first, only those present."""
    statuses = list(statuses)
    return {s: statuses.count(s) for s in STATUS_ORDER if s in statuses}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict("records"):
        for key in ("period_start", "period_end", "as_of"):
            if isinstance(rec.get(key), (pd.Timestamp, dt.datetime)):
                rec[key] = rec[key].date()
        out.append(rec)
    return out


def build_views(
    snaps: pd.DataFrame,
    settings: Settings,
    as_of: dt.date,
    grains: Sequence[str],
    period: dict[str, dt.date] | None = None,
) -> list[View]:
    """One view per grain: the period holding as-of (or the given start), KPIs grouped by domain."""
    kpis = [k for k in settings.kpis() if k.total]
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in _records(snaps):
        by_key.setdefault((rec["kpi_id"], rec["grain"]), []).append(rec)
    for recs in by_key.values():
        recs.sort(key=lambda r: r["period_start"])
    views = []
    for grain in grains:
        start = (period or {}).get(grain) or period_start(grain, as_of, settings.week_start)
        sections = []
        for domain in DOMAINS:
            cards = []
            for kpi in (k for k in kpis if k.domain == domain):
                recs = [r for r in by_key.get((kpi.id, grain), []) if r["period_start"] <= start]
                if not recs or recs[-1]["period_start"] != start:
                    continue
                snap = recs[-1]
                history = [
                    Point(
                        label(grain, r["period_start"], settings.week_start),
                        None if missing(r["actual"]) else float(r["actual"]),
                        None if missing(r["target"]) else float(r["target"]),
                        None
                        if r["is_closed"] or missing(r["projected"])
                        else float(r["projected"]),
                    )
                    for r in recs[-TREND_PERIODS:]
                ]
                cards.append(
                    Card(
                        kpi,
                        grain,
                        start,
                        snap["period_end"],
                        label(grain, start, settings.week_start),
                        snap,
                        history,
                    )
                )
            if cards:
                sections.append(Section(domain, cards))
        views.append(View(grain, start, label(grain, start, settings.week_start), sections))
    return views


def breakdowns(
    values: pd.DataFrame, settings: Settings, views: list[View]
) -> dict[str, list[Breakdown]]:
    """The top dimension values of each view's period (products, channels, networks, campaigns)."""
    kpis = {k.id: k for k in settings.kpis()}
    out: dict[str, list[Breakdown]] = {}
    if values is None or values.empty:
        return out
    recs = _records(values)
    for view in views:
        found: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for rec in recs:
            if (
                rec["grain"] == view.grain
                and rec["period_start"] == view.start
                and rec["kpi_id"] in kpis
                and not missing(rec["value"])
            ):
                found.setdefault((rec["kpi_id"], rec["dimension"]), []).append(
                    (str(rec["dimension_value"]), float(rec["value"]))
                )
        items = []
        for (kpi_id, dimension), rows in sorted(
            found.items(), key=lambda kv: list(kpis).index(kv[0][0])
        ):
            rows.sort(key=lambda r: (-r[1], r[0]))
            items.append(Breakdown(kpis[kpi_id], dimension, rows[:BREAKDOWN_TOP]))
        out[view.grain] = items
    return out


BREAKDOWN_KPIS = ("website_sessions", "ad_spend", "sales_by_product")
SNAPSHOTS_SQL = "select * from snapshots.kpi_snapshots where business_id = ?"


def load_scorecard(
    query: Callable[[str, list[Any]], pd.DataFrame],
    settings: Settings,
    as_of: dt.date,
    grains: Sequence[str],
    period: dict[str, dt.date] | None = None,
    snaps: pd.DataFrame | None = None,
) -> Scorecard:
    """The scorecard from a warehouse (or its published copy) through ``query(sql, params)``."""
    if snaps is None:
        snaps = query(SNAPSHOTS_SQL, [settings.business_id])
    views = build_views(snaps, settings, as_of, grains, period)
    freshness: dict[str, dt.date | None] = dict.fromkeys(settings.enabled_sources())
    try:
        loads = query(LOADED_THROUGH_SQL, [settings.business_id])
    except duckdb.Error:  # a warehouse that never loaded: no freshness to show
        loads = None
    if loads is not None:
        rows = [(r[0], r[1], pd.Timestamp(r[2]).date()) for r in loads.itertuples(index=False)]
        try:
            manual = {
                k: pd.Timestamp(d).date()
                for k, d in query(MANUAL_THROUGH_SQL, [settings.business_id]).itertuples(
                    index=False
                )
            }
        except duckdb.Error:  # a copy from before the CSV's table: the CSV's freshness is unknown
            manual = {}
        freshness.update(
            {s: min(d, as_of) for s, d in through_from_loads(rows, settings, manual).items()}
        )
    kpi_marks, view_marks = (
        ", ".join("?" for _ in BREAKDOWN_KPIS),
        " or ".join("(grain = ? and period_start = ?)" for _ in views),
    )
    try:  # only the views' periods: the breakdowns shown
        values = query(
            "select kpi_id, grain, period_start, dimension, dimension_value, value from "
            "kpis.kpi_values where business_id = ? and dimension is not null and kpi_id in "
            f"({kpi_marks}) and ({view_marks or 'false'})",
            [
                settings.business_id,
                *BREAKDOWN_KPIS,
                *(x for v in views for x in (v.grain, v.start)),
            ],
        )
    except duckdb.Error:  # no KPI values yet
        values = None
    card = Scorecard(settings.business, as_of, settings.demo, settings.currency, views, freshness)
    card.breakdowns = breakdowns(values, settings, views)
    return card


def _rounded(value: Any, kpi: KpiDef) -> float | int | None:
    if missing(value):
        return None
    if kpi.unit == "ratio":
        return round(float(value), 4)
    digits = kpi.shown_decimals
    return int(round(float(value))) if digits == 0 else round(float(value), digits)


def json_doc(card: Scorecard, language: str) -> str:
    """The documented JSON format (README "The scorecard as JSON"), version ``JSON_VERSION``."""
    kpis = []
    for c in card.cards:
        snap = c.snap
        kpis.append(
            {
                "kpi_id": c.kpi.id,
                "label": c.kpi.label_in(language),
                "domain": c.kpi.domain,
                "unit": c.kpi.unit,
                "currency": card.currency if c.kpi.unit == "currency" else None,
                "direction": c.kpi.direction,
                "grain": c.grain,
                "period": c.period,
                "period_start": c.start.isoformat(),
                "period_end": c.end.isoformat(),
                **{name: _rounded(snap.get(name), c.kpi) for name in VALUE_FIELDS},
                "projection_method": snap.get("projection_method"),
                "attainment": None
                if missing(snap.get("attainment"))
                else round(float(snap["attainment"]), 4),
                "status": c.status,
                "status_reason": c.reason,
                "change_pct": None if c.change_pct is None else round(float(c.change_pct), 4),
                "change_last_year_pct": None
                if c.change_last_year is None
                else round(c.change_last_year, 4),
                "change_basis": c.vs_previous.basis,
                "change_last_year_basis": c.vs_last_year.basis,
                "elapsed_share": round(float(snap.get("elapsed_share") or 0), 4),
                "is_closed": bool(snap.get("is_closed")),
                "is_final": bool(snap.get("is_final")),
            }
        )
    doc = {
        "version": JSON_VERSION,
        "business": card.business,
        "as_of": card.as_of.isoformat(),
        "currency": card.currency,
        "demo": card.demo,
        "sources": {s: (d.isoformat() if d else None) for s, d in card.freshness.items()},
        "moment": card.moment.json(language, card.currency) if card.moment else None,
        "kpis": kpis,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)
