"""The ``kpi`` command: demo, sync, report, check, catalog.

Exit codes: 0 ok, 1 the run failed (or there is nothing to report yet), 2 bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Sequence

from kpi_pipeline.config import ConfigError, Settings, load_config, missing_credentials
from kpi_pipeline.periods import SNAPSHOT_GRAINS, grain_of, parse_label
from kpi_pipeline.runtime import AS_OF_TAG, parse_date, resolve_as_of

OK, FAILED, BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A command-line value is wrong; the message says which and why."""


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
    parser = argparse.ArgumentParser(prog="kpi", description="Pull a business's KPIs and score them.")
    parser.add_argument("--version", action="version", version=f"kpi {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("demo", parents=[common], help="run the whole pipeline on the offline sandbox")
    sync = sub.add_parser("sync", parents=[common], help="sync sources, then models, snapshots, report")
    sync.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    sync.add_argument("--start", help="first day to (re)load, YYYY-MM-DD")
    sync.add_argument("--end", help="last day to (re)load, YYYY-MM-DD (default as-of)")
    sync.add_argument("--wait", type=float, help="seconds to wait for another run holding the warehouse "
                                                  "(env KPI_POOL_WAIT; default 900)")
    report = sub.add_parser("report", parents=[common], help="print the scorecard")
    report.add_argument("--grain", choices=SNAPSHOT_GRAINS, help="only this grain (default: month and quarter)")
    report.add_argument("--period", help="only this period: 2026-11, 2026-Q4, 2026-W48 or 2026")
    report.add_argument("--format", default="table", choices=("table", "markdown", "html", "json"),
                        help="output format (default table)")
    report.add_argument("--output", help="write to this file instead of stdout")
    sub.add_parser("check", parents=[common], help="validate kpi.yaml and the credentials' presence")
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kpi-pipeline")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    args = _parser().parse_args(argv)
    try:
        settings = load_config(args.config)
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
    from kpi_pipeline.run import run_pipeline, summary_lines

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
    from kpi_pipeline.doctor import preflight

    problem = preflight(settings, print)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return FAILED
    outcome = run_pipeline(settings, as_of, sources=sources or None, start=start, end=end, pool_wait=wait,
                           started_by="kpi demo" if demo else "kpi sync")
    print()
    for line in summary_lines(outcome):
        print(line)
    print(f"run {outcome.run_id}: {'ok' if outcome.success else 'FAILED'}")
    if "raw__manual__metrics" in outcome.failures:  # the owner's own file: bad input, not a failed platform
        print(f"error: {settings.enabled_sources()['manual'].path} was refused: fix the lines named above and sync "
              "again (the other sources were loaded)", file=sys.stderr)
        return BAD_INPUT
    return OK if outcome.success else FAILED


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
    args.grain, args.period, args.format, args.output = None, None, "table", None
    return cmd_report(args, settings)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    import duckdb

    from kpi_pipeline.render import render, scorecard_rows

    if args.period and not args.grain:
        args.grain = grain_of(args.period)
        if args.grain not in SNAPSHOT_GRAINS:
            raise BadInput(f"--period: {args.period!r} is not a week, month, quarter or year label")
    if args.period:
        try:
            parse_label(args.grain, args.period, settings.week_start)
        except ValueError as err:
            raise BadInput(f"--period: {args.period!r} is {err}") from None
    # the published copy: reading it never waits for (or blocks) a running sync
    source = settings.published_path
    if not source.exists():
        print(f"no data yet at {source}: run `kpi sync` first", file=sys.stderr)
        return FAILED
    requested = args.as_of or os.environ.get("KPI_AS_OF")
    table = "snapshots.kpi_snapshot_history" if requested else "snapshots.kpi_snapshots"
    with duckdb.connect(str(source), read_only=True) as con:
        if not con.execute("select count(*) from information_schema.tables where table_schema || '.' || "
                           "table_name = ?", [table]).fetchone()[0]:
            print("no snapshots yet: run `kpi sync` first", file=sys.stderr)
            return FAILED
        if requested:
            as_of = _date(requested, "--as-of")
        else:
            as_of = con.execute("select max(as_of) from snapshots.kpi_snapshots where business_id = ?",
                                [settings.business_id]).fetchone()[0]
        snaps = con.execute(f"select * from {table} where business_id = ? and as_of = ?",
                            [settings.business_id, as_of]).df() if requested else con.execute(
            f"select * from {table} where business_id = ?", [settings.business_id]).df()
    if snaps.empty:
        print(f"no snapshot for as-of {as_of}: run `kpi sync --as-of {as_of}`", file=sys.stderr)
        return FAILED
    grains = (args.grain,) if args.grain else ("month", "quarter")
    rows = scorecard_rows(snaps, settings, as_of, grains, args.period)
    text = render(args.format, rows, settings, as_of)
    if args.output:
        Path(args.output).write_text(text if text.endswith("\n") else text + "\n")
        print(f"wrote {args.output}")
    else:
        print(text)
    return OK


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
        from connectors.errors import ConnectorError
        from connectors.manual import connect
        from kpi_pipeline.config import source_settings

        values = source_settings(settings, "manual", settings.default_as_of())
        try:
            csv_file = connect(values)
            rows = csv_file.read()
        except ConnectorError as err:
            print(f"error: {err}", file=sys.stderr)
            return BAD_INPUT
        print(f"manual: {len(rows):,} rows in {values['path']}")
        for note in csv_file.notes:
            print(f"warning: {note}", file=sys.stderr)
    return OK


PACING_WORDS = {
    "linear": "Open periods: paced linearly (projected = to-date / elapsed share).",
    "history": "Open periods: paced by history (to-date x final / to-date at the same share last year, "
               "else last period; linearly without either).",
    "none": "Open periods: not paced (projected = the value as it stands).",
}


def cmd_catalog(args: argparse.Namespace, settings: Settings) -> int:
    kpis = settings.kpis()
    if args.format == "json":
        print(json.dumps([{**k.model_dump(), "pacing": k.pacing} for k in kpis], indent=2))
        return OK
    for domain in ("marketing", "sales", "production", "customer_service", "hr"):
        group = [k for k in kpis if k.domain == domain]
        if not group:
            continue
        print(f"{domain}")
        for k in group:
            print(f"  {k.id:<34} {k.unit:<8} {k.aggregation:<8} {k.direction:<6} {k.label_in(settings.language)}")
            print(f"  {'':<34} {k.description}")
            print(f"  {'':<34} {PACING_WORDS[k.pacing]}"
                  + (f"; final once the {settings.conversion_window_days}-day conversion window has passed"
                     if k.cohort else ""))
    return OK


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.doctor import diagnose

    if args.run and not args.repair:
        raise BadInput("--run: only with --repair")
    problems = diagnose(settings, print, repair_all=args.repair, force=tuple(args.run))
    return OK if not problems else FAILED


def cmd_init_instance(args: argparse.Namespace, settings: Settings) -> int:
    from kpi_pipeline.run import ensure_instance

    print(f"DAGSTER_HOME: {ensure_instance(settings)}")
    return OK


COMMANDS = {"demo": cmd_demo, "sync": cmd_sync, "report": cmd_report, "check": cmd_check,
            "catalog": cmd_catalog, "doctor": cmd_doctor, "init-instance": cmd_init_instance}

if __name__ == "__main__":
    sys.exit(main())
