"""Run the asset graph through Dagster against the instance in DAGSTER_HOME, with progress."""

from __future__ import annotations

import datetime as dt
import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, TextIO

import dagster as dg
from dagster import DagsterEventType

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.orchestration.defs import build_definitions
from kpi_pipeline.orchestration.instance_setup import (  # noqa: F401 - kpi.run's public names
    EVENT_LOG_BLOCK,
    INSTANCE_YAML,
    ensure_instance,
    ensure_portfolio_instance,
    set_api_pools,
    write_workspace,
)
from kpi_pipeline.orchestration.instance_state import (
    LAUNCHED_BY_TAG,
    PID_TAG,
    STARTED_BY_TAG,
    process_tag,
)
from kpi_pipeline.orchestration.progress import Watch, progress_logger
from kpi_pipeline.orchestration.schedules import NIGHTLY_JOB, REFRESH_JOB, run_tags
from kpi_pipeline.orchestration.supervisor import Supervisor
from kpi_pipeline.reporting.alerts import announce_failure, root_message
from kpi_pipeline.sources.windows import AS_OF_TAG, PARTITION_TAG

POOL_WAIT = 900.0  # seconds a run waits for the duckdb pool before it gives up (env KPI_POOL_WAIT)
# Dagster's own setting: a run over a range of days plans one event per asset for the whole range
# instead of one per day (a first sync of 14 months: 14 daily streams x 425 days = 5,950 events
# written before the first step; a sync over 6 months of 5 sources took 23% less time with it).
# The trade-off, chosen deliberately: when such a run fails, its days show as missing rather than
# failed in the UI's partition view; `kpi sync` and the failure alert name the failed streams, and
# "materialize missing" picks those days up. A nightly run plans one day either way.
PLANNED_AS_ONE = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE"


@dataclass
class StreamLine:
    asset: str
    rows: int
    requests: int
    seconds: float
    window: str


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    streams: list[StreamLine]
    failures: list[str]
    causes: dict[str, list[str]] = field(default_factory=dict)  # root cause -> steps it failed
    stopped: str = ""  # why the run was stopped from outside (Ctrl-C, waited too long for the pool)
    status: str = ""  # the run's end as Dagster recorded it (SUCCESS, FAILURE, CANCELED)

    @property
    def word(self) -> str:
        """The run's end for ``run <id>: ...``: ok, FAILED, or CANCELED when it was stopped."""
        return "ok" if self.success else "CANCELED" if self.status == "CANCELED" else "FAILED"


def run_pipeline(
    settings: Settings,
    as_of: dt.date,
    *,
    sources: list[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    out: TextIO | None = None,
    pool_wait: float | None = None,
    started_by: str = "kpi sync",
    instance: dg.DagsterInstance | None = None,
) -> RunOutcome:
    """Materialize the selected sources' streams and everything downstream, in one run
    (``instance``: the caller's, already open; else one from DAGSTER_HOME, closed at the end)."""
    out = out or sys.stdout
    pool_wait = (
        float(os.environ.get("KPI_POOL_WAIT", POOL_WAIT)) if pool_wait is None else pool_wait
    )
    os.environ.setdefault(PLANNED_AS_ONE, "1")
    os.environ.setdefault(BATCH_SIZE, "1000")
    ensure_instance(settings)
    watch = Watch()
    defs = build_definitions(settings)
    defs = dg.Definitions.merge(
        defs, dg.Definitions(loggers={"progress": progress_logger(out, watch)})
    )
    job = defs.resolve_job_def(NIGHTLY_JOB)
    graph = defs.resolve_asset_graph()
    selection: dg.AssetSelection = dg.AssetSelection.all()
    if sources:
        # the chosen sources' streams, and every model, snapshot, report and publish step: a model
        # reads all its upstream tables, and on a new warehouse those of the other sources (and the
        # Python tables like kpis.parameters) exist only once their assets have run
        others = [s for s in settings.enabled_sources() if s not in sources]
        selection = dg.AssetSelection.all() - dg.AssetSelection.groups(*others)
    keys = sorted(selection.resolve(graph))
    run_config: dict[str, Any] = {"loggers": {"progress": {}}}
    who = {PID_TAG: process_tag(), STARTED_BY_TAG: started_by, LAUNCHED_BY_TAG: started_by}
    with nullcontext(instance) if instance is not None else dg.DagsterInstance.get() as instance:
        supervisor = Supervisor(instance, watch, out, pool_wait)
        tags = run_tags(settings, as_of, start, end)
        partition = tags.pop(PARTITION_TAG, None)
        if not any(graph.get(k).partitions_def for k in keys):
            partition = (
                None  # e.g. only the CSV: nothing is partitioned, each stream takes its lookback
            )
        watch.plan(job, keys)
        result, stopped = supervisor.run(
            job,
            tags={**tags, **who},
            partition_key=partition,
            asset_selection=keys,
            raise_on_error=False,
            run_config=run_config,
        )
        main_run = supervisor.run_id
        failed_raw = (
            []
            if result is None
            else [
                e.step_key
                for e in result.all_events
                if e.event_type == DagsterEventType.STEP_FAILURE
                and (e.step_key or "").startswith("raw__")
            ]
        )
        if failed_raw and not stopped:
            # the scorecard still moves on: what did load is used, what did not shows no_data
            out.write("  refreshing models and the scorecard from the data that did load\n")
            refresh = defs.resolve_job_def(REFRESH_JOB)
            refresh_keys = [k for k in keys if k.path[len(settings.key_prefix)] != "raw"]
            watch.plan(refresh, refresh_keys)
            _, stopped = supervisor.run(
                refresh,
                tags={AS_OF_TAG: as_of.isoformat(), "kpi/refresh_after": result.run_id, **who},
                asset_selection=refresh_keys,
                raise_on_error=False,
                run_config=run_config,
            )
        record = instance.get_run_by_id(
            main_run
        )  # as Dagster recorded it: a stopped run is CANCELED
    streams: list[StreamLine] = []
    failures: list[str] = []
    for event in result.all_events if result is not None else []:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            key = "/".join(
                mat.asset_key.path[len(settings.key_prefix) :]
            )  # without a portfolio's business
            if not key.startswith("raw/") or any(s.asset == key for s in streams):
                continue
            md = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
            streams.append(
                StreamLine(
                    key,
                    int(md.get("rows", 0)),
                    int(md.get("requests", 0)),
                    float(md.get("seconds", 0.0)),
                    str(md.get("window", "")),
                )
            )
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            failures.append(event.step_key or "?")
    success = bool(result is not None and result.success and not stopped)
    status = record.status.value if record is not None else ("SUCCESS" if success else "FAILURE")
    if result is not None and not success and not stopped:  # a run stopped by a person is not news
        pairs = [
            (e.step_key or "?", root_message(e.step_failure_data.error))
            for e in result.all_events
            if e.event_type == DagsterEventType.STEP_FAILURE
        ]
        announce_failure(settings, started_by, result.run_id, pairs, as_of.isoformat())
    return RunOutcome(success, main_run, streams, failures, watch.causes, stopped, status)


def summary_lines(outcome: RunOutcome) -> list[str]:
    """One line per stream: rows landed, HTTP requests made, seconds."""
    width = max((len(s.asset) for s in outcome.streams), default=10)
    lines = [
        f"{s.asset.ljust(width)}  {s.rows:>8,} rows  {s.requests:>5} requests  {s.seconds:>6.1f}s  "
        f"{s.window}"
        for s in outcome.streams
    ]
    if outcome.failures:
        lines.append(f"failed: {', '.join(f.replace('__', '/', 1) for f in outcome.failures)}")
    for cause, steps in outcome.causes.items():
        lines.append(f"cause ({len(steps)} step{'s' if len(steps) > 1 else ''}): {cause}")
    if outcome.stopped:
        lines.append(f"stopped: {outcome.stopped}")
    return lines
