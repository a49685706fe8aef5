"""``kpi sync`` and ``kpi demo``: the run's days checked, the run through Dagster, then what the
scorecard says and which KPIs the run changed."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import duckdb

from connectors.registry import platform, streams
from kpi_pipeline.cli.args import as_of_arg, date_arg
from kpi_pipeline.cli.exits import BAD_INPUT, FAILED, OK, BadInput
from kpi_pipeline.cli.report import cmd_report
from kpi_pipeline.config.settings import Settings, missing_credentials
from kpi_pipeline.kpi.periods import label


def cmd_sync(args: argparse.Namespace, settings: Settings, *, demo: bool = False) -> int:
    as_of = as_of_arg(args, settings)
    sources = list(getattr(args, "source", []) or [])
    unknown = [s for s in sources if s not in settings.enabled_sources()]
    if unknown:
        raise BadInput(
            f"--source: {', '.join(unknown)} not in kpi.yaml sources "
            f"({', '.join(settings.enabled_sources()) or 'none'})"
        )
    start = date_arg(args.start, "--start") if getattr(args, "start", None) else None
    end = date_arg(args.end, "--end") if getattr(args, "end", None) else None
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
    print(
        f"{settings.business}: syncing {', '.join(sources) or 'all sources'} as of {as_of}"
        f"{' (demo sandbox)' if settings.demo else ''}"
    )
    try:
        return _sync(settings, as_of, sources, start, end, wait, demo)
    except Exception as err:
        # late: Dagster
        from kpi_pipeline.orchestration.full_disk import fail_run, full_disk_message

        home = Path(os.environ.get("DAGSTER_HOME", settings.warehouse_path.parent / ".dagster"))
        message = full_disk_message(err, [settings.warehouse_path.parent, home])
        if message is None:
            raise
        run_id = getattr(err, "kpi_run_id", None)  # set by the supervisor of a run it started
        if run_id:
            fail_run(home, run_id, message)
        print(
            f"error: {message}", file=sys.stderr
        )  # one line: the traceback is Dagster's storage, not news
        return FAILED


def _sync(
    settings: Settings,
    as_of: dt.date,
    sources: list[str],
    start: dt.date | None,
    end: dt.date | None,
    wait: float | None,
    demo: bool,
) -> int:
    # late: Dagster
    import dagster as dg

    # late: Dagster (through the Dagster layer)
    from kpi_pipeline.orchestration.doctor import preflight
    from kpi_pipeline.orchestration.full_disk import keep_reserve
    from kpi_pipeline.orchestration.instance_setup import ensure_instance
    from kpi_pipeline.orchestration.run import run_pipeline, summary_lines

    ensure_instance(settings)
    with (
        dg.DagsterInstance.get() as instance
    ):  # one instance (its storage opened once) for the repair and the run
        problem = preflight(settings, print, instance)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return FAILED
        keep_reserve(
            os.environ["DAGSTER_HOME"]
        )  # room to mark the run failed if the disk fills during it
        from kpi_pipeline.reporting.store import current_statuses  # late: pandas

        before = current_statuses(settings)
        outcome = run_pipeline(
            settings,
            as_of,
            sources=sources or None,
            start=start,
            end=end,
            pool_wait=wait,
            started_by="kpi demo" if demo else "kpi sync",
            instance=instance,
        )
    print()
    for line in summary_lines(outcome):
        print(line)
    print(f"run {outcome.run_id}: {outcome.word}")
    _print_scorecard_news(settings, as_of, before)
    refused = [
        str(getattr(block, setting))
        for source, block in settings.enabled_sources().items()
        if (setting := platform(source).input_file)
        and any(f"raw__{spec.table}" in outcome.failures for spec in streams(source).values())
    ]
    for path in refused:  # the owner's own file (the CSV): bad input, not a failed platform
        print(
            f"error: {path} was refused: fix the lines named above and sync "
            "again (the other sources were loaded)",
            file=sys.stderr,
        )
    if refused:
        return BAD_INPUT
    return OK if outcome.success else FAILED


def _print_scorecard_news(settings: Settings, as_of: dt.date, before: dict) -> None:
    """After a sync: the scorecard's summary line and the KPIs whose status the run changed."""
    # late: pandas, Babel
    from kpi_pipeline.reporting.i18n import Formatter
    from kpi_pipeline.reporting.model import DEFAULT_GRAINS, build_views
    from kpi_pipeline.reporting.store import (
        NoSnapshot,
        published_snapshots,
        status_changes,
        statuses,
    )

    try:  # one read of the published copy for the summary and the changes
        with published_snapshots(settings) as (current, snaps, _):
            views = build_views(snaps, settings, current, DEFAULT_GRAINS)
            after = statuses(snaps)
    except NoSnapshot:
        return
    except (
        duckdb.Error
    ) as err:  # the run's result stands; the copy is said in one line, with its repair
        print(
            f"warning: cannot read {settings.published_path} ({str(err).splitlines()[0]}); "
            "`kpi doctor --repair` publishes it again",
            file=sys.stderr,
        )
        return
    fmt = Formatter(settings.language, settings.currency)
    parts = [
        f"{fmt.t('view_' + v.grain).lower()} {v.period}: {fmt.summary(v.counts())}" for v in views
    ]
    print(f"scorecard as of {current}: " + "; ".join(parts))
    labels = {k.id: k.label_in(settings.language) for k in settings.kpis()}
    changes = status_changes(before, after, as_of, settings.week_start)
    for (kpi_id, grain, start), old, new in changes:
        print(
            f"  {labels.get(kpi_id, kpi_id)} ({label(grain, start, settings.week_start)}): "
            f"{fmt.status(old)} -> {fmt.status(new)}"
        )
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
