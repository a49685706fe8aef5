"""HTML from Jinja2 templates (autoescaped): the scorecard and the review, one self-contained file
each: inline CSS and SVG, no script, no font, no request at view time."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import jinja2
from markupsafe import Markup, escape

from kpi_pipeline.reporting import moment as first_screen
from kpi_pipeline.reporting.i18n import Formatter
from kpi_pipeline.reporting.markdown import md_escape
from kpi_pipeline.reporting.model import TREND_PERIODS, Card, Point, Scorecard
from kpi_pipeline.reporting.review import Review

SPARK_W, SPARK_H, SPARK_PAD = 120, 32, 3
_HYPHENATED = re.compile(r"\S*\w-+\w\S*|-+\w\S*")  # kpi sync --history, 2026-Q4, e-mail


def whole_words(text: str) -> Markup:
    """``text`` escaped, each word with a hyphen kept on one line (a browser may break after a
    hyphen: "--" at a line's end and "history" on the next is not a command anyone can read)."""
    out, last = [], 0
    for found in _HYPHENATED.finditer(text):
        out += [escape(text[last : found.start()]), Markup('<span class="nw">%s</span>') % found[0]]
        last = found.end()
    return Markup("").join([*out, escape(text[last:])])


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kpi_pipeline.reporting", "templates"),
        # every value from a platform, the CSV or kpi.yaml is text: HTML is escaped by Jinja2,
        # Markdown (.md.j2) passes each text through the |md filter
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_escape
    env.filters["whole"] = whole_words
    env.globals.update(
        spark=sparkline, bar=bar, trend_periods=TREND_PERIODS, first_screen=first_screen
    )
    return env


@dataclass(frozen=True)
class Spark:
    """An inline SVG sparkline: the closed periods' actuals as a line, an open period's projection
    as a dashed segment ending in a hollow dot, the targets as a dashed step line."""

    line: str
    projection: str
    target: str
    dots: list[tuple[float, float, bool]]  # x, y, hollow (an open period's projection)
    first: str
    last: str
    width: int = SPARK_W
    height: int = SPARK_H


def sparkline(points: list[Point], is_open: bool) -> Spark | None:
    """None with fewer than two values: one point is not a trend."""
    ends = [
        p.projected if is_open and i == len(points) - 1 and p.projected is not None else p.actual
        for i, p in enumerate(points)
    ]
    values = [v for v in ends if v is not None] + [p.target for p in points if p.target is not None]
    if len([v for v in ends if v is not None]) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (SPARK_W - 2 * SPARK_PAD) / max(1, len(points) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return (
            round(SPARK_PAD + i * step, 1),
            round(SPARK_H - SPARK_PAD - (v - low) / span * (SPARK_H - 2 * SPARK_PAD), 1),
        )

    last = len(points) - 1
    line: list[str] = []
    projection = ""
    dots: list[tuple[float, float, bool]] = []
    target: list[str] = []
    for i, value in enumerate(ends):
        if value is None:
            continue
        x, y = xy(i, value)
        if i == last and is_open:
            previous = next(
                (xy(j, v) for j, v in reversed(list(enumerate(ends[:i]))) if v is not None), None
            )
            projection = f"M{previous[0]} {previous[1]}L{x} {y}" if previous else ""
            dots.append((x, y, True))
        else:
            line.append(f"{'L' if line else 'M'}{x} {y}")
            if i == last:
                dots.append((x, y, False))
    half = step / 2
    for i, p in enumerate(points):
        if p.target is not None:
            x, y = xy(i, p.target)
            target.append(
                f"M{max(0.0, round(x - half, 1))} {y}H{min(float(SPARK_W), round(x + half, 1))}"
            )
    return Spark(
        " ".join(line), projection, " ".join(target), dots, points[0].period, points[-1].period
    )


@dataclass(frozen=True)
class Bar:
    """A progress bar: how much of the target reached (capped at 100%),
    and the expected-to-date mark."""

    fill: float
    mark: float | None
    over: bool


def bar(card: Card) -> Bar | None:
    if card.progress is None or card.progress < 0:
        return None
    mark = card.expected_share
    return Bar(
        round(min(card.progress, 1.0) * 100, 1),
        None if mark is None else round(min(max(mark, 0.0), 1.0) * 100, 1),
        card.progress > 1.0,
    )


def scorecard_html(card: Scorecard, fmt: Formatter, version: str) -> str:
    return (
        environment()
        .get_template("scorecard.html.j2")
        .render(card=card, f=fmt, version=version, generated=dt.date.today())
    )


def review_text(review: Review, fmt: Formatter, version: str, fmt_name: str) -> str:
    """The review as ``html`` or ``markdown``."""
    name = {"html": "review.html.j2", "markdown": "review.md.j2"}[fmt_name]
    return environment().get_template(name).render(r=review, f=fmt, version=version)
