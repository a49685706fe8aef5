"""``kpi report`` and ``kpi review``: the scorecard or the review of a period, read from the
published copy (never waiting for, nor blocking, a running sync)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import duckdb

from kpi_pipeline import version
from kpi_pipeline.cli.args import date_arg
from kpi_pipeline.cli.exits import FAILED, OK, BadInput
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.periods import (
    SNAPSHOT_GRAINS,
    grain_of,
    label,
    parse_label,
    period_end,
    period_start,
)


def _selection(
    args: argparse.Namespace, settings: Settings
) -> tuple[tuple[str, ...], dict[str, dt.date]]:
    """The grains to show and, with --period, the period's start per grain."""
    from kpi_pipeline.reporting.model import DEFAULT_GRAINS, REPORT_GRAINS  # late: pandas

    grain = args.grain
    if args.period and not grain:
        grain = grain_of(args.period)
        if grain not in SNAPSHOT_GRAINS:
            raise BadInput(f"--period: {args.period!r} is not a week, month, quarter or year label")
    if not args.period:
        return ((grain,) if grain else REPORT_GRAINS.get(args.format, DEFAULT_GRAINS)), {}
    try:
        start = parse_label(grain, args.period, settings.week_start)
    except ValueError as err:
        raise BadInput(f"--period: {args.period!r} is {err}") from None
    if period_end(grain, start) < settings.history_start:
        raise BadInput(
            f"--period: {args.period} ends before history_start ({settings.history_start})"
        )
    return (grain,), {grain: start}


def _requested_as_of(args: argparse.Namespace) -> dt.date | None:
    """A past as-of asked for (--as-of, else env KPI_AS_OF), or None for the latest sync's."""
    requested = args.as_of or os.environ.get("KPI_AS_OF")
    return date_arg(requested, "--as-of") if requested else None


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    # late: pandas, Babel, Jinja, rich
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.moment import load
    from kpi_pipeline.reporting.render import render
    from kpi_pipeline.reporting.store import NoSnapshot, published_snapshots

    grains, period = _selection(args, settings)
    try:  # the published copy: reading it never waits for (or blocks) a running sync
        with published_snapshots(settings, _requested_as_of(args)) as (as_of, snaps, query):
            for grain, start in period.items():
                _started(args.period, start, as_of, grain, settings)
            card = load(query, settings, as_of, grains, period, snaps)
    except NoSnapshot as err:
        print(str(err), file=sys.stderr)
        return FAILED
    except duckdb.Error as err:
        if not str(err).startswith("IO Error"):
            raise
        print(
            f"error: cannot read {settings.published_path} ({str(err).splitlines()[0]}); "
            "`kpi doctor --repair` publishes it again",
            file=sys.stderr,
        )
        return FAILED
    fmt = Formatter(settings.language, settings.currency)
    if args.output:
        text = render(args.format, card, fmt, version())
        out = Path(args.output)
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"wrote {out}")
        return OK
    text = render(args.format, card, fmt, version(), file=sys.stdout)
    if text:
        print(text, end="" if text.endswith("\n") else "\n")
    return OK


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    # late: pandas, Babel, Jinja
    from kpi_pipeline.reporting.html import review_text
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.review import build_review
    from kpi_pipeline.reporting.store import NoSnapshot, published_snapshots

    if args.output and not args.format:
        raise BadInput("--output: give --format too (html or markdown)")
    args.grain = None
    (grain,), period = _selection(args, settings)
    try:
        with published_snapshots(settings, _requested_as_of(args)) as (as_of, snaps, _):
            _started(args.period, period[grain], as_of, grain, settings)
            review = build_review(snaps, settings, as_of, grain, period[grain])
    except NoSnapshot as err:
        print(str(err), file=sys.stderr)
        return FAILED
    fmt = Formatter(settings.language, settings.currency)
    outputs = {"html": ".html", "markdown": ".md"}
    for name in [args.format] if args.format else list(outputs):
        path = (
            Path(args.output)
            if args.output
            else settings.reports_dir / f"review-{review.period}{outputs[name]}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(review_text(review, fmt, version(), name), encoding="utf-8")
        print(f"wrote {path}")
    print(f"{settings.business} · {review.period}: {fmt.summary(review.counts())}")
    return OK


def _started(text: str, start: dt.date, as_of: dt.date, grain: str, settings: Settings) -> None:
    if start > as_of:
        latest = label(grain, period_start(grain, as_of, settings.week_start), settings.week_start)
        raise BadInput(
            f"--period: {text} has not started: the data "
            f"runs through {as_of} (latest {grain}: {latest})"
        )
