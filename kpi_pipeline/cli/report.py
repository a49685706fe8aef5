"""``kpi report`` and ``kpi review``: the scorecard or the review of a period, read from the
published copy (never waiting for, nor blocking, a running sync)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from kpi_pipeline import version
from kpi_pipeline.cli.args import date_arg
from kpi_pipeline.cli.exits import BAD_INPUT, FAILED, OK, BadInput
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.periods import (
    SNAPSHOT_GRAINS,
    grain_of,
    label,
    parse_label,
    period_end,
    period_start,
)

if TYPE_CHECKING:  # pandas: imported late
    from kpi_pipeline.reporting.model import Scorecard


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


def requested_as_of(args: argparse.Namespace) -> dt.date | None:
    """A past as-of asked for (--as-of, else env KPI_AS_OF), or None for the latest sync's."""
    requested = args.as_of or os.environ.get("KPI_AS_OF")
    return date_arg(requested, "--as-of") if requested else None


def scorecard_for(args: argparse.Namespace, settings: Settings) -> Scorecard | None:
    """The scorecard ``kpi report`` shows, from the published copy; None when there is none to
    read (the reason printed on stderr)."""
    # late: pandas, Babel, Jinja, rich
    from kpi_pipeline.reporting.moment import load
    from kpi_pipeline.reporting.store import NoSnapshot, published_snapshots

    grains, period = _selection(args, settings)
    try:  # the published copy: reading it never waits for (or blocks) a running sync
        with published_snapshots(settings, requested_as_of(args)) as (as_of, snaps, query):
            for grain, start in period.items():
                _started(args.period, start, as_of, grain, settings)
            return load(query, settings, as_of, grains, period, snaps)
    except NoSnapshot as err:
        print(str(err), file=sys.stderr)
        return None
    except duckdb.Error as err:
        if not str(err).startswith("IO Error"):
            raise
        print(
            f"error: cannot read {settings.published_path} ({str(err).splitlines()[0]}); "
            "`kpi doctor --repair` publishes it again",
            file=sys.stderr,
        )
        return None


def html_path(args: argparse.Namespace, settings: Settings) -> Path:
    """Where ``kpi report --format html`` writes when it does not print: the scorecard's usual
    place (data/reports/scorecard.html, the one each sync writes), or beside it one named after
    the --grain, --period or --as-of asked for (a past view never replaces the current one)."""
    parts = [args.grain if args.grain and not args.period else None, args.period]
    as_of = requested_as_of(args)
    parts.append(f"as-of-{as_of}" if as_of else None)
    name = "-".join(["scorecard", *(p for p in parts if p)])
    return settings.reports_dir / f"{name}.html"


def cmd_report(args: argparse.Namespace, settings: Settings, to_file: bool = False) -> int:
    """Print the scorecard, or write it to --output. HTML is written to a file (its path printed)
    when stdout is a terminal, or with ``to_file``: 157 KB of markup is no use on a screen."""
    # late: Babel, Jinja, rich
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.render import render

    card = scorecard_for(args, settings)
    if card is None:
        return FAILED
    fmt = Formatter(settings.language, settings.currency)
    out = Path(args.output) if args.output else None
    if out is None and args.format == "html" and (to_file or sys.stdout.isatty()):
        out = html_path(args, settings)
    if out is not None:
        text = render(args.format, card, fmt, version())
        text = text if text.endswith("\n") else text + "\n"
        if args.output:  # the user's file as given (/dev/stdout included)
            out.write_text(text, encoding="utf-8")
        else:  # the scorecard a browser may be showing: never half a page
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, out)
        print(f"wrote {out}")
        return OK
    text = render(args.format, card, fmt, version(), file=sys.stdout)
    if text:
        print(text, end="" if text.endswith("\n") else "\n")
    return OK


def report_each(args: argparse.Namespace, chosen: list[tuple[str, Settings]]) -> list[int]:
    """``kpi report --format json|markdown|html`` over a portfolio's businesses (``chosen``: slug,
    settings): one document on stdout, never a ``== slug ==`` line in it; an exit code per
    business. One business: its own document, as `kpi report` prints it. Several: JSON is one
    document, ``{"businesses": [...]}`` (each business's document with its ``slug``); Markdown
    gives each business a ``#`` heading; HTML, a page per business, is written to each business's
    usual place (paths printed)."""
    # late: Babel, Jinja, rich
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.markdown import md_escape
    from kpi_pipeline.reporting.render import render

    codes, parts = [], []
    for slug, settings in chosen:
        try:
            if len(chosen) == 1 or args.format == "html":
                codes.append(cmd_report(args, settings, to_file=len(chosen) > 1))
                continue
            card = scorecard_for(args, settings)
        except BadInput as err:  # for this business (a period before its history)
            print(f"error: {slug}: {err}", file=sys.stderr)
            codes.append(BAD_INPUT)
            continue
        codes.append(OK if card else FAILED)
        if card is not None:
            fmt = Formatter(settings.language, settings.currency)
            text = render(args.format, card, fmt, version())
            parts.append(
                {"slug": slug, **json.loads(text)}
                if args.format == "json"
                else f"# {md_escape(settings.business)}\n\n{text}"
            )
    if args.format == "json" and len(chosen) > 1:
        print(json.dumps({"businesses": parts}, indent=2, ensure_ascii=False))
    elif parts:
        print("\n".join(str(part) for part in parts), end="")
    return codes


def json_each(
    args: argparse.Namespace,
    chosen: list[tuple[str, Settings]],
    command: Callable[[argparse.Namespace, Settings], int],
) -> list[int]:
    """A command's ``--format json`` over a portfolio's businesses as one document, as
    :func:`report_each` gives the report's: one business, its own document; several,
    ``{"businesses": [...]}``, each business's document with its ``slug`` (a list, such as
    `kpi catalog`'s KPIs, under ``kpis``). An exit code per business; one that fails is left out."""
    codes, parts = [], []
    for slug, settings in chosen:
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                codes.append(command(args, settings))
        except BadInput as err:
            print(f"error: {slug}: {err}", file=sys.stderr)
            codes.append(BAD_INPUT)
            continue
        if codes[-1] == OK:
            doc = json.loads(printed.getvalue())
            parts.append(
                doc
                if len(chosen) == 1
                else {"slug": slug, **(doc if isinstance(doc, dict) else {"kpis": doc})}
            )
    if parts or len(chosen) > 1:
        document = {"businesses": parts} if len(chosen) > 1 else parts[0]
        print(json.dumps(document, indent=2, ensure_ascii=False))
    return codes


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
        with published_snapshots(settings, requested_as_of(args)) as (as_of, snaps, _):
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
