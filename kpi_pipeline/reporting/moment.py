"""The first screen: what an owner asks on the day they look (issue 24 §1).

1. how the last closed period ended (achieved / missed, final or not yet), first while the current
   period is too early to judge;
2. a headline per domain toward the year goal, from the year's snapshot;
3. the three things to act on first: off track now or missed last period, the farthest from target
   first, each with its reason.

Pure functions over the scorecard's model (:mod:`kpi_pipeline.reporting.model`): the numbers are
the snapshots', nothing about a KPI is computed here but the ranking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from babel.numbers import format_compact_currency

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.periods import period_start, previous_start
from kpi_pipeline.reporting.i18n import WORDS, Formatter
from kpi_pipeline.reporting.model import (
    SNAPSHOTS_SQL,
    Card,
    Scorecard,
    View,
    build_views,
    load_scorecard,
    status_counts,
)

ACTIONS = 3
TOO_EARLY_SHARE = 0.5  # more than half of the judged cards too early: the period is too early
UNJUDGED = ("no_target", "no_data", "partial")  # statuses that never make a period judgeable
VERDICTS = ("achieved", "missed")


@dataclass
class Action:
    """A card to act on: ``distance`` from its target in the KPI's direction (1 - attainment)."""

    card: Card
    distance: float


@dataclass
class Moment:
    grain: str
    current: View
    closed: View | None  # the period before the current one, of the same grain
    closed_first: bool  # the current period is too early: the closed one leads
    headlines: list[Card]  # year-grain cards with a target, one per domain
    actions: list[Action]

    def json(self, language: str, currency: str) -> dict[str, Any]:
        """The ``moment`` object of README "The scorecard as JSON"."""
        fmt = Formatter(language, currency)
        closed = None
        if self.closed is not None:
            closed = {
                "grain": self.closed.grain,
                "period": self.closed.period,
                "period_start": self.closed.start.isoformat(),
                "shown_first": self.closed_first,
                "counts": self.closed.counts(),
                "final": not_final(self.closed) == 0,
                "text": closed_line(self, fmt),
                "verdicts": [
                    {"kpi_id": c.kpi.id, "label": c.kpi.label_in(language), "status": c.status}
                    | {"is_final": bool(c.is_final), "attainment": _num(c.attainment)}
                    for c in verdicts(self.closed)
                ],
            }
        return {
            "grain": self.grain,
            "current_period": self.current.period,
            "current_too_early": self.closed_first,
            "closed_period": closed,
            "headlines": [
                {"kpi_id": c.kpi.id, "label": c.kpi.label_in(language), "domain": c.kpi.domain}
                | {"period": c.period, "status": c.status, "is_closed": bool(c.is_closed)}
                | {k: _num(getattr(c, k)) for k in ("actual", "target", "projected")}
                | {"text": headline(c, fmt)}
                for c in self.headlines
            ],
            "actions": [
                {"kpi_id": a.card.kpi.id, "label": a.card.kpi.label_in(language)}
                | {"grain": a.card.grain, "period": a.card.period, "status": a.card.status}
                | {"attainment": _num(a.card.attainment), "distance": round(a.distance, 4)}
                | {"reason": reason(a.card, fmt)}
                for a in self.actions
            ],
        }


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def too_early_to_judge(statuses: Iterable[str]) -> bool:
    """Whether most of a period's judged statuses (KPIs with a target and data) are too early:
    the rule of the first screen, the portfolio and nothing else."""
    judged = [s for s in statuses if s not in UNJUDGED]
    return not judged or judged.count("too_early") > TOO_EARLY_SHARE * len(judged)


def too_early(view: View) -> bool:
    """Whether the view's period is too early to judge (:func:`too_early_to_judge`)."""
    return too_early_to_judge(c.status for c in view.cards)


def last_closed_fallback(current: View, previous: View | None) -> tuple[View, bool]:
    """The view to lead with: the previous (closed) period while the current one is too early to
    judge, and whether it fell back to it; the current one otherwise (the portfolio's rule too)."""
    if previous is not None and previous.sections and too_early(current):
        return previous, True
    return current, False


def verdicts(view: View) -> list[Card]:
    """The achieved and missed cards of a closed period, the missed first."""
    return sorted(
        (c for c in view.cards if c.status in VERDICTS), key=lambda c: c.status != "missed"
    )


def not_final(view: View) -> int:
    """How many verdicts of a closed period can still change (not ``is_final`` yet)."""
    return sum(1 for c in verdicts(view) if not c.is_final)


def distance(card: Card) -> float:
    """How far from its target, in the KPI's direction: 1 - attainment (the snapshot's
    attainment is already projected / target, or target / projected for lower-is-better)."""
    return 1.0 if card.attainment is None else max(0.0, 1.0 - float(card.attainment))


def actions(current: View, closed: View | None, count: int = ACTIONS) -> list[Action]:
    """Off track in the open period or missed in the closed one, the farthest first; one per KPI."""
    found = [Action(c, distance(c)) for c in current.cards if c.status == "off_track"]
    if closed is not None:
        found += [Action(c, distance(c)) for c in closed.cards if c.status == "missed"]
    found.sort(key=lambda a: -a.distance)  # stable: catalog order, the open period first, on ties
    kept: dict[str, Action] = {}
    for action in found:  # a KPI once, where it is farthest
        kept.setdefault(action.card.kpi.id, action)
    return list(kept.values())[:count]


def headlines(year: View | None) -> list[Card]:
    """Per domain, the first KPI in catalog order whose year snapshot has a target."""
    if year is None:
        return []
    return [
        card
        for section in year.sections
        for card in [next((c for c in section.cards if c.target is not None), None)]
        if card is not None
    ]


def build_moment(current: View, previous: View | None, year: View | None) -> Moment:
    _, fell_back = last_closed_fallback(current, previous)
    closed = previous if previous is not None and previous.sections else None
    return Moment(
        current.grain, current, closed, fell_back, headlines(year), actions(current, closed)
    )


def moment_of(
    snaps: pd.DataFrame, settings: Settings, as_of: dt.date, grain: str = "month"
) -> Moment:
    """The first screen as of ``as_of`` at ``grain``, from the scorecard's snapshot rows."""
    start = period_start(grain, as_of, settings.week_start)
    (current,) = build_views(snaps, settings, as_of, [grain])
    (previous,) = build_views(
        snaps, settings, as_of, [grain], {grain: previous_start(grain, start, settings.week_start)}
    )
    (year,) = build_views(snaps, settings, as_of, ["year"])
    return build_moment(current, previous, year)


def load(
    query: Callable[[str, list[Any]], pd.DataFrame],
    settings: Settings,
    as_of: dt.date,
    grains: Sequence[str],
    period: dict[str, dt.date] | None = None,
    snaps: pd.DataFrame | None = None,
) -> Scorecard:
    """:func:`~kpi_pipeline.reporting.model.load_scorecard` with the first screen, at the first
    grain shown; none when a period was asked for (``kpi report --period``)."""
    if snaps is None:
        snaps = query(SNAPSHOTS_SQL, [settings.business_id])
    card = load_scorecard(query, settings, as_of, grains, period, snaps)
    card.moment = None if period else moment_of(snaps, settings, as_of, grains[0])
    return card


# ------------------------------------------------------------------------------ words


def amount(card: Card, value: Any, fmt: Formatter) -> str:
    """A value said short: money over a thousand as "€136k", the rest as the scorecard says it."""
    if card.kpi.unit == "currency" and value is not None and abs(float(value)) >= 1000:
        digits = 1 if abs(float(value)) < 100_000 else 0
        return format_compact_currency(
            float(value), fmt.currency, locale=fmt.locale, fraction_digits=digits
        )
    return fmt.value(value, card.kpi.unit, card.decimals)


def _target(card: Card, fmt: Formatter) -> str:
    text = amount(card, card.target, fmt)
    return fmt.t("target_max", value=text) if card.kpi.direction == "lower" else text


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]  # "oktober 2026 is afgesloten" starts a line


def closed_line(moment: Moment, fmt: Formatter) -> str:
    """ "October 2026 ended: 4 missed · 9 achieved (final)"."""
    view = moment.closed
    if view is None:
        return ""
    title = _first_up(fmt.t("moment_ended", period=fmt.period(view.grain, view.start)))
    judged = status_counts(c.status for c in verdicts(view))
    if not judged:
        return f"{title}: {fmt.t('moment_no_verdict')}"
    left = not_final(view)
    final = fmt.t("moment_not_final", n=left) if left else fmt.t("moment_all_final")
    return f"{title}: {fmt.summary(judged)} ({final})"


def current_line(moment: Moment, fmt: Formatter) -> str:
    view = moment.current
    title = _first_up(fmt.t("moment_now", period=fmt.period(view.grain, view.start)))
    return f"{title}: {fmt.summary(view.counts())}"


def headline(card: Card, fmt: Formatter) -> str:
    """ "Revenue: €136k of €140k for the year, projected €151k: on course to achieve"."""
    words = (
        "moment_of" if card.kpi.direction == "higher" and card.kpi.unit != "ratio" else "moment_vs"
    )
    text = fmt.t(
        words,
        kpi=card.kpi.label_in(fmt.language),
        actual=amount(card, card.actual, fmt),
        target=_target(card, fmt),
    )
    if card.reason and card.status in UNJUDGED:  # why it is not judged: "partial: since 1 Mar"
        return f"{text}: {fmt.reason(card.reason)}"
    if card.is_closed:
        return f"{text}: {fmt.status(card.status)}"
    if card.projected is not None and card.status not in UNJUDGED:
        text += ", " + fmt.t("moment_projected", value=amount(card, card.projected, fmt))
    key = f"moment_open_{card.status}"
    return f"{text}: {fmt.t(key) if key in WORDS else fmt.status(card.status)}"


def reason(card: Card, fmt: Formatter) -> str:
    """Why a card is to act on: behind its pace now, or what it missed."""
    values = {
        "actual": amount(card, card.actual, fmt),
        "target": _target(card, fmt),
        "projected": amount(card, card.projected, fmt),
        "status": fmt.status(card.status),
    }
    if card.is_closed:
        values.pop("status")
        return fmt.t("moment_missed", period=fmt.period(card.grain, card.start), **values)
    if card.expected_to_date is None:
        return fmt.t("moment_behind_pace", **values)
    expected = amount(card, card.expected_to_date, fmt)
    return fmt.t("moment_behind", expected=expected, **values)


def year_title(moment: Moment, fmt: Formatter) -> str:
    cards = moment.headlines
    year = cards[0].start.year if cards else moment.current.start.year
    return fmt.t("moment_year_h", year=year)
