"""The ``kpi`` command: demo, sync, report, check, catalog.

Exit codes: 0 ok, 1 the run failed (or there is nothing to report yet), 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import warnings
from pathlib import Path
from typing import Sequence

import duckdb

from connectors.errors import AuthenticationError, ConfigurationError, ConnectorError
from connectors.manual.connector import connect as connect_manual
from kpi_pipeline import portfolio_cli, version
from kpi_pipeline.catalog import print_catalog
from kpi_pipeline.config import ConfigError, Settings, load_config, missing_credentials
from kpi_pipeline.exits import BAD_INPUT, FAILED, OK, BadInput
from kpi_pipeline.periods import SNAPSHOT_GRAINS, grain_of, label, parse_label, period_end, period_start
from kpi_pipeline.portfolio import portfolio_root
from kpi_pipeline.runtime import AS_OF_TAG, parse_date, resolve_as_of, source_settings, today

# Late imports below (inside the commands) are measured start-up costs of every `kpi` command,
# `kpi --help` included (python -X importtime, on top of this module's own ~0.7 s):
# Dagster ~1.2 s (run, doctor, full_disk, instance_setup); pandas with Babel, Jinja and rich
# ~0.3 s (reporting, render); every connector's SDK ~0.6 s (online, online_names, lineage).

def _date(value: str, what: str) -> dt.date:
    try:
        return parse_date(value, what)
    except ValueError as err:
        raise BadInput(str(err)) from None


def _as_of(args: argparse.Namespace, settings: Settings) -> dt.date:
    try:  # --as-of, else env KPI_AS_OF, else yesterday: the same rule the assets follow
        as_of = resolve_as_of(settings, {AS_OF_TAG: args.as_of} if args.as_of else None)
    except ValueError as err:
        raise BadInput(str(err).replace("as-of:", "--as-of:", 1)) from None
    if as_of < settings.history_start:
        raise BadInput(f"--as-of: {as_of} is before history_start ({settings.history_start})")
    if as_of >= dt.datetime.now(settings.tz).date():
        raise BadInput(f"--as-of: {as_of} is not a complete day yet in {settings.timezone}")
    return as_of


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="kpi.yaml (default: env KPI_CONFIG, else ./kpi.yaml)")
    common.add_argument("--as-of", help="last complete day, YYYY-MM-DD (env KPI_AS_OF; default yesterday)")
    common.add_argument("--business", action="append", default=[], metavar="SLUG",
                        help="in a portfolio (a businesses/ folder here, or env KPI_PORTFOLIO): only this business "
                             "(repeatable; default all)")
    jobs = argparse.ArgumentParser(add_help=False)
    jobs.add_argument("--jobs", type=int, default=2, help="in a portfolio: businesses synced at a time (default 2)")
    parser = argparse.ArgumentParser(prog="kpi", description="Pull a business's KPIs and score them.")
    parser.add_argument("--version", action="version", version=f"kpi {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", parents=[common, jobs], help="run the whole pipeline on the offline sandbox")
    demo.add_argument("--businesses", type=int, help="a portfolio of this many sandbox businesses instead (in --dir)")
    demo.add_argument("--dir", help="with --businesses: the portfolio's folder (default ./portfolio-demo)")
    sync = sub.add_parser("sync", parents=[common, jobs], help="sync sources, then models, snapshots, report")
    sync.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    sync.add_argument("--start", help="first day to (re)load, YYYY-MM-DD")
    sync.add_argument("--end", help="last day to (re)load, YYYY-MM-DD (default as-of)")
    sync.add_argument("--history", action="store_true", help="(re)load everything from history_start (a first "
                                                             "backfill; --start history_start, per business)")
    sync.add_argument("--wait", type=float, help="seconds to wait for another run holding the warehouse "
                                                  "(env KPI_POOL_WAIT; default 900)")
    report = sub.add_parser("report", parents=[common], help="print the scorecard")
    report.add_argument("--grain", choices=SNAPSHOT_GRAINS, help="only this grain (default: month and quarter)")
    report.add_argument("--period", help="only this period: 2026-11, 2026-Q4, 2026-W48 or 2026")
    report.add_argument("--format", default="table", choices=("table", "markdown", "html", "json"),
                        help="output format (default table)")
    report.add_argument("--output", help="write to this file instead of stdout")
    report.add_argument("--portfolio", action="store_true", help="one row per business of the portfolio, who needs "
                                                                 "a call first (table, html or json)")
    review = sub.add_parser("review", parents=[common], help="write the review of a month or quarter (HTML and "
                                                              "Markdown): achieved, missed, movers, the year's goal")
    review.add_argument("--period", required=True, help="the period to review: 2026-10, 2026-Q3 (also 2026-W40, 2026)")
    review.add_argument("--format", choices=("html", "markdown"), help="write only this format (default both)")
    review.add_argument("--output", help="with --format: write to this file (default data/reports/review-PERIOD.EXT)")
    check = sub.add_parser("check", parents=[common], help="validate kpi.yaml and the credentials' presence")
    check.add_argument("--online", action="store_true", help="also make one cheap request per source to prove "
                                                             "its credentials work, and refuse a name the account "
                                                             "lacks (event type, lifecycle stage; exit 2)")
    catalog = sub.add_parser("catalog", parents=[common], help="list every KPI with its formula")
    catalog.add_argument("--format", default="table", choices=("table", "json"), help="output format (default table)")
    doctor = sub.add_parser("doctor", parents=[common], help="show (and --repair) runs, pool slots, leftover "
                                                              "files and the warehouse's lock and disk space")
    doctor.add_argument("--repair", action="store_true", help="fail runs whose process is gone, free their "
                                                               "pool slots, remove leftover temp files")
    doctor.add_argument("--run", action="append", default=[], metavar="RUN_ID",
                        help="with --repair: also fail this run (id or its first 8 characters), one whose process "
                             "this host cannot see, such as a run the daemon launched")
    sub.add_parser("init-instance", parents=[common], help="write DAGSTER_HOME's dagster.yaml and workspace.yaml "
                                                         "for the daemon and the UI (make ui runs it)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command == "demo" and args.businesses is not None:
        return portfolio_cli.portfolio_demo(args, argv)
    root = None if args.config or os.environ.get("KPI_CONFIG") else portfolio_root()
    if root is not None:
        return portfolio_cli.run_portfolio(args, root, argv, COMMANDS)
    try:
        settings = load_config(args.config)
        if args.business and args.business != [settings.slug or settings.business_id]:
            raise BadInput(f"--business: {', '.join(args.business)} is not this kpi.yaml's business "
                           f"({settings.slug or settings.business_id}); a portfolio is a folder holding businesses/")
        if getattr(args, "portfolio", False):
            raise BadInput("--portfolio: no portfolio here (run it in a folder holding businesses/, or set "
                           "KPI_PORTFOLIO)")
        return COMMANDS[args.command](args, settings)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    except BadInput as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    except BrokenPipeError:  # `kpi catalog | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK


def cmd_sync(args: argparse.Namespace, settings: Settings, *, demo: bool = False) -> int:
    as_of = _as_of(args, settings)
    sources = list(getattr(args, "source", []) or [])
    unknown = [s for s in sources if s not in settings.enabled_sources()]
    if unknown:
        raise BadInput(f"--source: {', '.join(unknown)} not in kpi.yaml sources "
                       f"({', '.join(settings.enabled_sources()) or 'none'})")
    start = _date(args.start, "--start") if getattr(args, "start", None) else None
    end = _date(args.end, "--end") if getattr(args, "end", None) else None
    if demo:
        start, end = settings.history_start, as_of
    elif getattr(args, "history", False):
        if start:
            raise BadInput("--history: it starts at history_start; leave out --start")
        start, end = settings.history_start, end or as_of
    if start and start < settings.history_start:
        raise BadInput(f"--start: {start} is before history_start ({settings.history_start})")
    if end and end > as_of:
        raise BadInput(f"--end: {end} is after as-of ({as_of})")
    if start and end and start > end:
        raise BadInput(f"--start {start} is after --end {end}")
    if start and not end:
        end = as_of
    missing = missing_credentials(settings)
    if missing and not settings.demo:
        raise BadInput("missing credentials: " + "; ".join(missing))
    wait = getattr(args, "wait", None)
    if wait is not None and wait < 0:
        raise BadInput(f"--wait: {wait} is negative")
    print(f"{settings.business}: syncing {', '.join(sources) or 'all sources'} as of {as_of}"
          f"{' (demo sandbox)' if settings.demo else ''}")
    try:
        return _sync(settings, as_of, sources, start, end, wait, demo)
    except Exception as err:
        from kpi_pipeline.full_disk import fail_run, full_disk_message  # late: Dagster

        home = Path(os.environ.get("DAGSTER_HOME", settings.warehouse_path.parent / ".dagster"))
        message = full_disk_message(err, [settings.warehouse_path.parent, home])
        if message is None:
            raise
        if getattr(err, "kpi_run_id", None):
            fail_run(home, err.kpi_run_id, message)
        print(f"error: {message}", file=sys.stderr)  # one line: the traceback is Dagster's storage, not news
        return FAILED


def _sync(settings: Settings, as_of: dt.date, sources: list[str], start: dt.date | None, end: dt.date | None,
          wait: float | None, demo: bool) -> int:
    # late: Dagster
    from kpi_pipeline.doctor import preflight
    from kpi_pipeline.full_disk import keep_reserve
    from kpi_pipeline.run import run_pipeline, summary_lines

    problem = preflight(settings, print)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return FAILED
    keep_reserve(os.environ["DAGSTER_HOME"])  # room to mark the run failed if the disk fills during it
    from kpi_pipeline.reporting.store import current_statuses  # late: pandas

    before = current_statuses(settings)
    outcome = run_pipeline(settings, as_of, sources=sources or None, start=start, end=end, pool_wait=wait,
                           started_by="kpi demo" if demo else "kpi sync")
    print()
    for line in summary_lines(outcome):
        print(line)
    print(f"run {outcome.run_id}: {outcome.word}")
    _print_scorecard_news(settings, as_of, before)
    if "raw__manual__metrics" in outcome.failures:  # the owner's own file: bad input, not a failed platform
        print(f"error: {settings.enabled_sources()['manual'].path} was refused: fix the lines named above and sync "
              "again (the other sources were loaded)", file=sys.stderr)
        return BAD_INPUT
    return OK if outcome.success else FAILED


def _print_scorecard_news(settings: Settings, as_of: dt.date, before: dict) -> None:
    """After a sync: the scorecard's summary line and the KPIs whose status the run changed."""
    # late: pandas, Babel
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.model import DEFAULT_GRAINS, build_views
    from kpi_pipeline.reporting.store import NoSnapshot, published_snapshots, status_changes, statuses

    try:  # one read of the published copy for the summary and the changes
        with published_snapshots(settings) as (current, snaps, _):
            views = build_views(snaps, settings, current, DEFAULT_GRAINS)
            after = statuses(snaps)
    except NoSnapshot:
        return
    except duckdb.Error as err:  # the run's result stands; the copy is said in one line, with its repair
        print(f"warning: cannot read {settings.published_path} ({str(err).splitlines()[0]}); "
              "`kpi doctor --repair` publishes it again", file=sys.stderr)
        return
    fmt = Formatter(settings.language, settings.currency)
    parts = [f"{fmt.t('view_' + v.grain).lower()} {v.period}: {fmt.summary(v.counts())}" for v in views]
    print(f"scorecard as of {current}: " + "; ".join(parts))
    labels = {k.id: k.label_in(settings.language) for k in settings.kpis()}
    changes = status_changes(before, after, as_of, settings.week_start)
    for (kpi_id, grain, start), old, new in changes:
        print(f"  {labels.get(kpi_id, kpi_id)} ({label(grain, start, settings.week_start)}): "
              f"{fmt.status(old)} -> {fmt.status(new)}")
    if before and not changes:
        print("  no KPI changed status")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.demo:
        # never mix sandbox data into a real warehouse: the demo gets a folder of its own
        demo_dir = settings.warehouse_path.parent / "demo"
        os.environ.pop("KPI_WAREHOUSE", None)
        os.environ["DAGSTER_HOME"] = str(demo_dir / ".dagster")
        settings = settings.model_copy(update={"warehouse": str(demo_dir / "warehouse.duckdb")})
        print(f"kpi.yaml is not in demo mode: the demo writes to {demo_dir}")
    settings = settings.model_copy(update={"demo": True})
    code = cmd_sync(args, settings, demo=True)
    if code != OK:
        return code
    print()
    args.grain, args.period, args.format, args.output, args.as_of = None, None, "table", None, None
    return cmd_report(args, settings)


def _selection(args: argparse.Namespace, settings: Settings) -> tuple[tuple[str, ...], dict[str, dt.date]]:
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
        raise BadInput(f"--period: {args.period} ends before history_start ({settings.history_start})")
    return (grain,), {grain: start}


def _requested_as_of(args: argparse.Namespace) -> dt.date | None:
    """A past as-of asked for (--as-of, else env KPI_AS_OF), or None for the latest sync's."""
    requested = args.as_of or os.environ.get("KPI_AS_OF")
    return _date(requested, "--as-of") if requested else None


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    # late: pandas, Babel, Jinja, rich
    from kpi_pipeline.render import render
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.model import load_scorecard
    from kpi_pipeline.reporting.store import NoSnapshot, published_snapshots

    grains, period = _selection(args, settings)
    try:  # the published copy: reading it never waits for (or blocks) a running sync
        with published_snapshots(settings, _requested_as_of(args)) as (as_of, snaps, query):
            for grain, start in period.items():
                _started(args.period, start, as_of, grain, settings)
            card = load_scorecard(query, settings, as_of, grains, period, snaps)
    except NoSnapshot as err:
        print(str(err), file=sys.stderr)
        return FAILED
    except duckdb.Error as err:
        if not str(err).startswith("IO Error"):
            raise
        print(f"error: cannot read {settings.published_path} ({str(err).splitlines()[0]}); `kpi doctor --repair` "
              "publishes it again", file=sys.stderr)
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
    for name in ([args.format] if args.format else list(outputs)):
        path = Path(args.output) if args.output else settings.reports_dir / f"review-{review.period}{outputs[name]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(review_text(review, fmt, version(), name), encoding="utf-8")
        print(f"wrote {path}")
    print(f"{settings.business} · {review.period}: {fmt.summary(review.counts())}")
    return OK


def _started(text: str, start: dt.date, as_of: dt.date, grain: str, settings: Settings) -> None:
    if start > as_of:
        latest = label(grain, period_start(grain, as_of, settings.week_start), settings.week_start)
        raise BadInput(f"--period: {text} has not started: the data runs through {as_of} (latest {grain}: {latest})")


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    print(f"{settings.config_path}: valid ({settings.business}, {settings.timezone}, "
          f"{'demo sandbox' if settings.demo else 'live APIs'})")
    print(f"sources: {', '.join(settings.enabled_sources()) or 'none'}; KPIs: {len(settings.kpis())}; "
          f"warehouse: {settings.warehouse_path}")
    missing = missing_credentials(settings)
    if missing:
        print("missing credentials:", file=sys.stderr)
        for item in missing:
            print(f"  - {item}", file=sys.stderr)
        return BAD_INPUT
    print("credentials: all set" if not settings.demo else "credentials: not needed in demo mode")
    if "manual" in settings.enabled_sources():
        values = source_settings(settings, "manual", settings.default_as_of())
        try:
            csv_file = connect_manual(values)
            rows = sum(len(page.records) for page in csv_file.pages())
        except ConnectorError as err:
            print(f"error: {err}", file=sys.stderr)
            return BAD_INPUT
        print(f"manual: {rows:,} rows in {values['path']}")
        for note in csv_file.notes:
            print(f"warning: {note}", file=sys.stderr)
    if not args.online:
        return OK
    # late: every connector's SDK
    from kpi_pipeline.online import probe_sources
    from kpi_pipeline.online_names import check_names

    as_of = _as_of(args, settings)
    print("online: the first page of one stream per source, for one day")
    failed = probe_sources(settings, as_of, print)
    print("names: what kpi.yaml names in each account (event types, lifecycle stages, API version)")
    names = check_names(settings, as_of, today(settings, as_of), set(failed), print)
    for warning in names.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed.update(names.failed)
    if not failed and not names.errors:
        return OK
    if names.errors:
        many = len(names.errors) != 1
        print(f"error: {len(names.errors)} setting{'s' if many else ''} in kpi.yaml name{'' if many else 's'} what "
              "the account does not have or no longer serves: fix what each line above names", file=sys.stderr)
    if failed:
        print(f"error: {', '.join(failed)} refused or failed: fix what each line above names", file=sys.stderr)
    refused = bool(names.errors) or any(isinstance(e, (AuthenticationError, ConfigurationError, ConfigError))
                                        for e in failed.values())
    return BAD_INPUT if refused else FAILED


def cmd_catalog(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.lineage import kpi_streams  # late: every connector's SDK

    kpis = settings.kpis()
    print_catalog(kpis, args.format, settings.language, settings.conversion_window_days,
                  kpi_streams(kpis, settings.enabled_sources()))
    return OK


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.doctor import diagnose  # late: Dagster

    if args.run and not args.repair:
        raise BadInput("--run: only with --repair")
    problems = diagnose(settings, print, repair_all=args.repair, force=tuple(args.run))
    return OK if not problems else FAILED


def cmd_init_instance(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.instance_setup import ensure_instance  # late: Dagster

    print(f"DAGSTER_HOME: {ensure_instance(settings)}")
    return OK


COMMANDS = {"demo": cmd_demo, "sync": cmd_sync, "report": cmd_report, "review": cmd_review, "check": cmd_check,
            "catalog": cmd_catalog, "doctor": cmd_doctor, "init-instance": cmd_init_instance}

if __name__ == "__main__":
    sys.exit(main())
