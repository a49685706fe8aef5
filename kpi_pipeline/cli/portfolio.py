"""The ``kpi`` command over a portfolio: each business on its own, none stopping another.

``sync`` and ``demo`` run one ``kpi`` process per business (``--jobs`` at a time): its credentials
(its ``.env``) are read in that process only, and a crash or a bad kpi.yaml ends that business's
process, not the others'. Reading commands (report, review, check, catalog, doctor) run each
business in turn. Exit code: 1 when any business failed (any exit other than 0 and 2, a process
killed by a signal included), else 2 when any had bad input, else 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kpi_pipeline import version
from kpi_pipeline.cli.args import date_arg
from kpi_pipeline.cli.exits import BAD_INPUT, FAILED, OK, BadInput
from kpi_pipeline.cli.report import json_each, report_each, requested_as_of
from kpi_pipeline.config.settings import ConfigError, Settings
from kpi_pipeline.portfolio.businesses import Business, businesses, instance_home, load_all, select
from kpi_pipeline.portfolio.copy import build_portfolio_copy
from kpi_pipeline.portfolio.demo import write_portfolio

RUNS = ("sync", "demo")  # commands that start Dagster runs: a process per business
_OWN_FLAGS = {"--business": 1, "--jobs": 1, "--businesses": 1, "--dir": 1, "--portfolio": 0}


def worst(codes: Sequence[int]) -> int:
    """The portfolio's exit code: any exit that is neither success nor bad input is a failure
    (1, a crash, a process killed by a signal or by ``timeout``)."""
    if any(code not in (OK, BAD_INPUT) for code in codes):
        return FAILED
    return BAD_INPUT if BAD_INPUT in codes else OK


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def exit_words(code: int) -> str:
    """A business's outcome in words: a killed process is named with its signal."""
    if code < 0:  # Popen: killed by a signal
        return f"FAILED (killed by {_signal_name(-code)})"
    if code == 124:  # timeout(1) ran out
        return "FAILED (exit 124: timed out)"
    if code > 128:  # a shell's or a container's way of saying "killed by signal code - 128"
        return f"FAILED (exit {code}: killed by {_signal_name(code - 128)})"
    return {OK: "ok", FAILED: "FAILED", BAD_INPUT: "bad input (see its lines above)"}.get(
        code, f"FAILED (exit {code})"
    )


def child_argv(argv: Sequence[str]) -> list[str]:
    """The command line for one business: the portfolio's own flags taken out."""
    out, skip = [], 0
    for token in argv:
        if skip:
            skip -= 1
            continue
        name = token.split("=", 1)[0]
        if name in _OWN_FLAGS:
            skip = _OWN_FLAGS[name] if "=" not in token else 0
            continue
        out.append(token)
    return out


def child_env(root: Path) -> dict[str, str]:
    """The environment of a business's process: the portfolio's instance,
    no single-business overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KPI_CONFIG", "KPI_WAREHOUSE", "KPI_PORTFOLIO")
    }
    env["DAGSTER_HOME"] = str(instance_home(root))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def fan_out(
    root: Path,
    chosen: list[Business],
    argv: list[str],
    jobs: int,
    say: Callable[[str], None] = print,
) -> dict[str, tuple[int, float]]:
    """Run ``kpi <argv> --config <business>`` per business, ``jobs`` at a time; slug -> (exit code,
    seconds). Every line a business prints comes prefixed with its slug."""
    lock = threading.Lock()
    width = max(len(b.slug) for b in chosen)
    env = child_env(root)

    def one(business: Business) -> tuple[int, float]:
        started = time.monotonic()
        command = [
            sys.executable,
            "-m",
            "kpi_pipeline.cli",
            *argv,
            "--config",
            str(business.config_path),
        ]
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            cwd=business.config_path.parent,
            bufsize=1,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                with lock:
                    say(f"[{business.slug.ljust(width)}] {line.rstrip()}")
            code = proc.wait()
        return code, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = dict(zip((b.slug for b in chosen), pool.map(one, chosen), strict=True))
    return results


def _summary(results: dict[str, tuple[int, float]], say: Callable[[str], None]) -> None:
    say("")
    for slug, (code, seconds) in results.items():
        say(f"{slug}: {exit_words(code)} in {seconds:.0f}s")


def run_portfolio(
    args: argparse.Namespace,
    root: Path,
    argv: list[str],
    commands: dict[str, Callable[[argparse.Namespace, Settings], int]],
) -> int:
    try:
        chosen = select(root, args.business or [])
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    if getattr(args, "jobs", 1) < 1:
        print(
            f"error: --jobs: {args.jobs} is not a number of businesses at a time (1 or more)",
            file=sys.stderr,
        )
        return BAD_INPUT
    if os.environ.get("KPI_WAREHOUSE"):
        print(
            "note: KPI_WAREHOUSE is ignored in a portfolio: each business keeps its own warehouse",
            file=sys.stderr,
        )
    if args.command == "init-instance":
        # late: Dagster, ~1.2 s
        from kpi_pipeline.orchestration.instance_setup import ensure_portfolio_instance

        print(f"DAGSTER_HOME: {ensure_portfolio_instance(root)}")
        return OK
    if args.command == "report" and args.portfolio:
        return portfolio_report(args, root, chosen)
    if args.command in RUNS:
        # late: Dagster, ~1.2 s
        from kpi_pipeline.orchestration.instance_setup import ensure_portfolio_instance

        ensure_portfolio_instance(
            root
        )  # made once, before the businesses' processes open it together
        results = fan_out(root, chosen, child_argv(argv), args.jobs)
        _summary(results, print)
        refresh_portfolio_copy(root, chosen, print)
        return worst([code for code, _ in results.values()])
    if getattr(args, "output", None) and len(chosen) > 1:
        print(
            "error: --output: name one --business (each business has its own report)",
            file=sys.stderr,
        )
        return BAD_INPUT
    codes = []
    machine = getattr(args, "format", "table") == "json" or (
        args.command == "report" and args.format != "table"
    )
    if machine:  # one document, no `== slug ==` (`kpi catalog --format json` too)
        loaded = []
        for business in chosen:
            try:
                loaded.append((business.slug, business.load()))
            except ConfigError as err:
                print(f"error: {err}", file=sys.stderr)
                codes.append(BAD_INPUT)
        if args.command == "report":
            return worst(codes + report_each(args, loaded))
        return worst(codes + json_each(args, loaded, commands[args.command]))
    for business in chosen:
        print(f"== {business.slug} ==")
        try:
            codes.append(commands[args.command](args, business.load()))
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            codes.append(BAD_INPUT)
        except BadInput as err:  # for this business (a period before its history)
            print(f"error: {err}", file=sys.stderr)
            codes.append(BAD_INPUT)
        sys.stdout.flush()
    return worst(codes)


def refresh_portfolio_copy(root: Path, chosen: list[Business], say: Callable[[str], None]) -> None:
    """The analysts' portfolio copy, from every business's published copy
    (not only those just synced)."""
    good, bad = load_all(businesses(root))
    result = build_portfolio_copy(
        root, good, {slug: str(err).splitlines()[0] for slug, err in bad.items()}
    )
    say(
        f"portfolio copy: {result.path} ({len(result.included)} businesses, {result.tables} tables)"
        + (
            f"; left out: {', '.join(f'{s} ({why})' for s, why in result.missing.items())}"
            if result.missing
            else ""
        )
    )
    for note in result.notes:
        say(note)


def portfolio_report(args: argparse.Namespace, root: Path, chosen: list[Business]) -> int:
    # late: pandas, Babel, Jinja and rich, ~0.3 s of every `kpi` command's start-up
    from kpi_pipeline.reporting.portfolio import (
        portfolio_html,
        portfolio_json,
        portfolio_rows,
        portfolio_table,
    )

    grain = args.grain or "month"
    good, bad = load_all(chosen)
    try:
        asked = requested_as_of(args)
    except BadInput as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    rows = portfolio_rows(
        good,
        {slug: f"kpi.yaml is invalid: {str(err).splitlines()[0]}" for slug, err in bad.items()},
        grain,
        asked,  # the sources' days behind count to it
    )
    output = Path(args.output) if args.output else None
    if output is None and args.format == "html" and sys.stdout.isatty():  # not 100 KB of markup
        output = root / "data" / "reports" / "portfolio.html"
    if args.format == "html":
        text = portfolio_html(rows, grain, version(), output)
    elif args.format == "json":
        text = portfolio_json(rows, grain)
    elif args.format == "table":
        text = portfolio_table(rows, grain)
    else:
        print(
            f"error: --format: the portfolio view is table, html or json (not {args.format})",
            file=sys.stderr,
        )
        return BAD_INPUT
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"wrote {output}")
    else:
        print(text)
    return OK


def demo_instance(root: Path) -> str | None:
    """The portfolio demo keeps to its own Dagster instance, ``root``/.dagster, when DAGSTER_HOME
    is unset or is the single business's default (.dagster beside ./kpi.yaml or KPI_CONFIG's, the
    one `make demo` and `make ui` use): its runs never land among the business's. Another
    DAGSTER_HOME, set on purpose, is kept. Sets DAGSTER_HOME; returns a note when it replaced one.
    """
    single = Path(os.environ.get("KPI_CONFIG") or "kpi.yaml").resolve().parent / ".dagster"
    given = os.environ.get("DAGSTER_HOME")
    if given and Path(given).resolve() != single.resolve():
        return None
    os.environ["DAGSTER_HOME"] = str(root / ".dagster")
    if given and single.resolve() != (root / ".dagster").resolve():
        return f"note: the portfolio demo keeps to its own Dagster instance (not {given})"
    return None


def runnable(path: str) -> str:
    """``path`` as a shell word that runs from here: relative when it is under the current
    folder, else absolute."""
    absolute = os.path.abspath(path)  # not resolve(): a venv's python is a symlink
    relative = os.path.relpath(absolute)
    if relative.startswith(".."):
        return shlex.quote(absolute)
    return shlex.quote(relative if "/" in relative else f"./{relative}")


def kpi_command() -> str:
    """How the user runs ``kpi`` from here, as this process was started: ``kpi`` when that is the
    one on PATH, else its path (``.venv/bin/kpi`` after `make demo-portfolio`), else this Python
    with ``-m kpi_pipeline.cli``."""
    started = Path(sys.argv[0])
    if started.name == "kpi" and started.is_file():
        on_path = shutil.which("kpi")
        if on_path and Path(on_path).resolve() == started.resolve():
            return "kpi"
        return runnable(str(started))
    return f"{runnable(sys.executable)} -m kpi_pipeline.cli"


def next_commands(root: Path, slug: str) -> list[str]:
    """The commands that show the portfolio demo, runnable as printed from the current folder."""
    here = Path.cwd().resolve() == root.resolve()
    prefix = "" if here else f"KPI_PORTFOLIO={runnable(str(root)).removeprefix('./')} "
    kpi = kpi_command()
    return [f"{prefix}{kpi} report --portfolio", f"{prefix}{kpi} report --business {slug}"]


def portfolio_demo(args: argparse.Namespace, argv: list[str]) -> int:
    """``kpi demo --businesses N``: write N sandbox businesses under --dir, sync each from its
    history's start, build the portfolio copy, print the portfolio view and write it as HTML."""
    if args.businesses < 1 or args.jobs < 1:
        print(
            f"error: {'--businesses' if args.businesses < 1 else '--jobs'}: at least 1",
            file=sys.stderr,
        )
        return BAD_INPUT
    root = Path(args.dir or "portfolio-demo").resolve()
    requested = args.as_of or os.environ.get("KPI_AS_OF")
    try:
        as_of = date_arg(requested, "--as-of") if requested else dt.date.today() - dt.timedelta(1)
    except BadInput as err:
        print(f"error: {err}", file=sys.stderr)
        return BAD_INPUT
    chosen = [Business(p.parent.name, p) for p in write_portfolio(root, args.businesses, as_of)]
    note = demo_instance(root)
    print(
        f"portfolio demo: {len(chosen)} sandbox businesses in {root} (each its own process, "
        f"{args.jobs} at a time; Dagster instance {instance_home(root)})"
    )
    if note:
        print(note)
    # late: Dagster, ~1.2 s
    from kpi_pipeline.orchestration.instance_setup import ensure_portfolio_instance

    ensure_portfolio_instance(root)  # made once, before the businesses' processes open it together
    sync = ["sync", "--history", *(["--as-of", requested] if requested else [])]
    results = fan_out(root, chosen, sync, args.jobs)
    _summary(results, print)
    refresh_portfolio_copy(root, chosen, print)
    print()
    args.grain, args.format, args.output = None, "table", None
    portfolio_report(args, root, chosen)
    args.format, args.output = "html", str(root / "data" / "reports" / "portfolio.html")
    portfolio_report(args, root, chosen)
    first, *more = next_commands(root, chosen[0].slug)
    print(f"next: {first}")
    for command in more:
        print(f"      {command}")
    return worst([code for code, _ in results.values()])
