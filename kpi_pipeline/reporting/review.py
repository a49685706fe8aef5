"""The review of one period (a month or a quarter, also a week or a year): what was achieved and
missed, the biggest movers, what is off track two periods running, where the year's goal stands
and the targets for the next period. Built from the snapshots; nothing is recomputed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.calendar import target_for
from kpi_pipeline.kpi.catalog import KpiDef
from kpi_pipeline.kpi.periods import iter_periods, label, next_start, period_end, previous_start
from kpi_pipeline.reporting.change import mover_rank
from kpi_pipeline.reporting.model import Card, build_views, status_counts

MOVERS = 3
BAD = ("off_track", "missed")


@dataclass
class YearLine:
    """A KPI's year target as the review period closes: to date, still needed,
    and per remaining period.

    Sums add up their periods; levels (subscribers, followers) stand where the period ended. A ratio
    or unique count cannot be added up from periods: its line shows the year's value as of as-of.
    """

    kpi: KpiDef
    to_date: float | None
    target: float
    through: dt.date
    remaining: int
    additive: bool
    status: str | None = None  # ratio / unique count: the year snapshot's status
    without_data: tuple[
        str, ...
    ] = ()  # periods of the year so far that have no value (to_date unknown)

    @property
    def needed(self) -> float | None:
        """For `higher`: what is still missing; for `lower`: what is still allowed."""
        if self.to_date is None or not self.additive:
            return None
        return self.target - self.to_date

    @property
    def reached(self) -> bool:
        """A `higher` goal already met, or a `lower` limit already used up
        (nothing left to plan)."""
        needed = self.needed
        if needed is None:
            return False
        return needed <= 0 if self.kpi.direction == "higher" else needed < 0

    @property
    def per_period(self) -> float | None:
        """What each remaining period must bring (sums) or add (levels); for a `lower` sum,
        the most it may."""
        needed = self.needed
        if needed is None or self.remaining == 0 or self.reached:
            return None
        return needed / self.remaining


@dataclass
class Review:
    business: str
    as_of: dt.date
    demo: bool
    grain: str
    start: dt.date
    end: dt.date
    period: str
    cards: list[Card]
    previous: dict[str, Card]
    year: list[YearLine] = field(default_factory=list)
    next_period: str = ""
    next_start: dt.date | None = None
    next_targets: list[tuple[KpiDef, float]] = field(default_factory=list)

    @property
    def is_closed(self) -> bool:
        return self.as_of >= self.end

    def with_status(self, *statuses: str) -> list[Card]:
        return [c for c in self.cards if c.status in statuses]

    @property
    def achieved(self) -> list[Card]:
        """Closed: the KPIs that achieved their target. Open: those on course to achieve it (on
        track by projection, or already achieved)."""
        return self.with_status("achieved", *(() if self.is_closed else ("on_track",)))

    @property
    def missed(self) -> list[Card]:
        """Closed: the KPIs that missed their target. Open: those projected to miss it (at risk
        or off track by projection, or already missed)."""
        return self.with_status("missed", *(() if self.is_closed else ("off_track", "at_risk")))

    @property
    def no_data(self) -> list[Card]:
        """The KPIs without a value in the period, each named with its reason."""
        return self.with_status("no_data")

    @property
    def still_open(self) -> list[Card]:
        """In a closed period, the KPIs still judged by projection: conversion cohorts whose window
        has not passed (never achieved or missed for want of time)."""
        return self.with_status("on_track", "at_risk", "off_track") if self.is_closed else []

    @property
    def scored(self) -> list[Card]:
        return [
            c
            for c in self.cards
            if c.target is not None and c.status not in ("no_data", "too_early")
        ]

    def counts(self) -> dict[str, int]:
        return status_counts(c.status for c in self.cards)

    def movers(self, good: bool) -> list[Card]:
        """The three largest changes against the previous period that are good news (``good``)
        or bad news in each KPI's direction (fewer sick days is good news): the largest relative
        changes first; a change over a tiny base (from 0, from 1 lead) ranks after every one over a
        real base, however large its percentage
        (:func:`~kpi_pipeline.reporting.change.mover_rank`)."""
        moved = [c for c in self.cards if c.good(c.vs_previous) is good]
        return sorted(moved, key=lambda c: mover_rank(c.vs_previous))[:MOVERS]

    @property
    def year_columns(self) -> list[dt.date]:
        """The dates the year lines stand at, one column each: the period's end (sums and levels of
        a closed period) and as-of (ratios and unique counts, and anything of an open period)."""
        return sorted({y.through for y in self.year})

    @property
    def twice_off(self) -> list[tuple[Card, Card]]:
        """KPIs off track (or missed) in this period and the one before."""
        return [
            (c, self.previous[c.kpi.id])
            for c in self.cards
            if c.status in BAD
            and c.kpi.id in self.previous
            and self.previous[c.kpi.id].status in BAD
        ]


def _year_lines(
    settings: Settings,
    snaps: pd.DataFrame,
    cards: list[Card],
    grain: str,
    start: dt.date,
    as_of: dt.date,
) -> list[YearLine]:
    if grain == "year":
        return []
    year = dt.date(start.year, 1, 1)
    end = period_end(grain, start)
    periods = list(iter_periods(grain, year, end, settings.week_start))
    remaining = sum(
        1
        for s in iter_periods(
            grain, next_start(grain, start), dt.date(start.year, 12, 31), settings.week_start
        )
        if s.year == start.year
    )
    frame = snaps.assign(period_start=pd.to_datetime(snaps["period_start"]).dt.date)
    through = min(end, as_of)  # an open period's sums and levels stand at as-of
    out = []
    for card in cards:
        kpi = card.kpi
        target = target_for(settings, kpi.id, "year", year)
        if target is None:
            continue
        if kpi.aggregation == "sum":
            rows = frame[
                (frame.kpi_id == kpi.id) & (frame.grain == grain) & frame.period_start.isin(periods)
            ]
            known = {
                s
                for s, v in zip(rows["period_start"], rows["actual"], strict=True)
                if not pd.isna(v)
            }
            gaps = tuple(label(grain, s, settings.week_start) for s in periods if s not in known)
            to_date = None if gaps else float(rows["actual"].sum())
            out.append(YearLine(kpi, to_date, target, through, remaining, True, without_data=gaps))
        elif kpi.aggregation == "last":
            out.append(YearLine(kpi, card.actual, target, through, remaining, True))
        else:
            row = frame[
                (frame.kpi_id == kpi.id) & (frame.grain == "year") & (frame.period_start == year)
            ]
            value = (
                None
                if row.empty or pd.isna(row.iloc[0]["actual"])
                else float(row.iloc[0]["actual"])
            )
            status = None if row.empty else row.iloc[0]["status"]
            out.append(
                YearLine(
                    kpi,
                    value,
                    target,
                    min(as_of, dt.date(start.year, 12, 31)),
                    remaining,
                    False,
                    status,
                )
            )
    return out


def build_review(
    snaps: pd.DataFrame, settings: Settings, as_of: dt.date, grain: str, start: dt.date
) -> Review:
    """The review of the ``grain`` period starting at ``start``,
    from the snapshots as of ``as_of``."""
    view = build_views(snaps, settings, as_of, (grain,), {grain: start})[0]
    before = previous_start(grain, start, settings.week_start)
    previous = {
        c.kpi.id: c for c in build_views(snaps, settings, as_of, (grain,), {grain: before})[0].cards
    }
    following = next_start(grain, start)
    targets = [
        (k, t)
        for k in settings.kpis()
        if k.total
        for t in [target_for(settings, k.id, grain, following)]
        if t is not None
    ]
    return Review(
        settings.business,
        as_of,
        settings.demo,
        grain,
        start,
        period_end(grain, start),
        label(grain, start, settings.week_start),
        view.cards,
        previous,
        _year_lines(settings, snaps, view.cards, grain, start, as_of),
        label(grain, following, settings.week_start),
        following,
        targets,
    )
