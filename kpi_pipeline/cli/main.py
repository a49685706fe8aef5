"""The ``kpi`` command: its arguments, and which command runs (kpi_pipeline/cli/; in a
portfolio, kpi_pipeline/cli/portfolio.py runs it for each business).

Exit codes: 0 ok, 1 the run failed (or there is nothing to report yet), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence

from kpi_pipeline import version
from kpi_pipeline.cli import portfolio as portfolio_cli
from kpi_pipeline.cli.check import cmd_catalog, cmd_check, cmd_doctor, cmd_init_instance
from kpi_pipeline.cli.exits import BAD_INPUT, OK, BadInput
from kpi_pipeline.cli.report import cmd_report, cmd_review
from kpi_pipeline.cli.sync import cmd_demo, cmd_sync
from kpi_pipeline.config.settings import ConfigError, Settings, load_config
from kpi_pipeline.kpi.periods import SNAPSHOT_GRAINS
from kpi_pipeline.portfolio.businesses import portfolio_root


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="kpi.yaml (default: env KPI_CONFIG, else ./kpi.yaml)")
    common.add_argument(
        "--as-of", help="last complete day, YYYY-MM-DD (env KPI_AS_OF; default yesterday)"
    )
    common.add_argument(
        "--business",
        action="append",
        default=[],
        metavar="SLUG",
        help="in a portfolio (a businesses/ folder here, or env KPI_PORTFOLIO): only this business "
        "(repeatable; default all)",
    )
    jobs = argparse.ArgumentParser(add_help=False)
    jobs.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="in a portfolio: businesses synced at a time (default 2)",
    )
    parser = argparse.ArgumentParser(
        prog="kpi", description="Pull a business's KPIs and score them."
    )
    parser.add_argument("--version", action="version", version=f"kpi {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo", parents=[common, jobs], help="run the whole pipeline on the offline sandbox"
    )
    demo.add_argument(
        "--businesses",
        type=int,
        help="a portfolio of this many sandbox businesses instead (in --dir)",
    )
    demo.add_argument(
        "--dir", help="with --businesses: the portfolio's folder (default ./portfolio-demo)"
    )
    sync = sub.add_parser(
        "sync", parents=[common, jobs], help="sync sources, then models, snapshots, report"
    )
    sync.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    sync.add_argument("--start", help="first day to (re)load, YYYY-MM-DD")
    sync.add_argument("--end", help="last day to (re)load, YYYY-MM-DD (default as-of)")
    sync.add_argument(
        "--history",
        action="store_true",
        help="(re)load everything from history_start (a first "
        "backfill; --start history_start, per business)",
    )
    sync.add_argument(
        "--wait",
        type=float,
        help="seconds to wait for another run holding the warehouse "
        "(env KPI_POOL_WAIT; default 900)",
    )
    report = sub.add_parser("report", parents=[common], help="print the scorecard")
    report.add_argument(
        "--grain", choices=SNAPSHOT_GRAINS, help="only this grain (default: month and quarter)"
    )
    report.add_argument("--period", help="only this period: 2026-11, 2026-Q4, 2026-W48 or 2026")
    report.add_argument(
        "--format",
        default="table",
        choices=("table", "markdown", "html", "json"),
        help="output format (default table)",
    )
    report.add_argument("--output", help="write to this file instead of stdout")
    report.add_argument(
        "--portfolio",
        action="store_true",
        help="one row per business of the portfolio, who needs a call first (table, html or json)",
    )
    review = sub.add_parser(
        "review",
        parents=[common],
        help="write the review of a month or quarter (HTML and "
        "Markdown): achieved, missed, movers, the year's goal",
    )
    review.add_argument(
        "--period",
        required=True,
        help="the period to review: 2026-10, 2026-Q3 (also 2026-W40, 2026)",
    )
    review.add_argument(
        "--format", choices=("html", "markdown"), help="write only this format (default both)"
    )
    review.add_argument(
        "--output",
        help="with --format: write to this file (default data/reports/review-PERIOD.EXT)",
    )
    check = sub.add_parser(
        "check", parents=[common], help="validate kpi.yaml and the credentials' presence"
    )
    check.add_argument(
        "--online",
        action="store_true",
        help="also make one cheap request per source to prove "
        "its credentials work, and refuse a name the account "
        "lacks (event type, lifecycle stage; exit 2)",
    )
    catalog = sub.add_parser("catalog", parents=[common], help="list every KPI with its formula")
    catalog.add_argument(
        "--format", default="table", choices=("table", "json"), help="output format (default table)"
    )
    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="show (and --repair) runs, pool slots, leftover "
        "files and the warehouse's lock and disk space",
    )
    doctor.add_argument(
        "--repair",
        action="store_true",
        help="fail runs whose process is gone, free their pool slots, remove leftover temp files",
    )
    doctor.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="RUN_ID",
        help="with --repair: also fail this run (id or its first 8 characters), one whose process "
        "this host cannot see, such as a run the daemon launched",
    )
    sub.add_parser(
        "init-instance",
        parents=[common],
        help="write DAGSTER_HOME's dagster.yaml and workspace.yaml "
        "for the daemon and the UI (make ui runs it)",
    )
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
            raise BadInput(
                f"--business: {', '.join(args.business)} is not this kpi.yaml's business "
                f"({settings.slug or settings.business_id}); a portfolio is a folder holding "
                "businesses/"
            )
        if getattr(args, "portfolio", False):
            raise BadInput(
                "--portfolio: no portfolio here (run it in a folder holding businesses/, or set "
                "KPI_PORTFOLIO)"
            )
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


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "demo": cmd_demo,
    "sync": cmd_sync,
    "report": cmd_report,
    "review": cmd_review,
    "check": cmd_check,
    "catalog": cmd_catalog,
    "doctor": cmd_doctor,
    "init-instance": cmd_init_instance,
}
