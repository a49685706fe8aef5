"""Run the asset graph through Dagster against the instance in DAGSTER_HOME, with progress."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import dagster as dg
from dagster._core.events import DagsterEventType

from kpi_pipeline.config import Settings
from kpi_pipeline.defs import build_definitions
from kpi_pipeline.runtime import AS_OF_TAG
from kpi_pipeline.schedules import NIGHTLY_JOB, REFRESH_JOB, run_tags

INSTANCE_YAML = """\
# Written by kpi-pipeline. Every asset that writes DuckDB runs in the pool "duckdb", one at a time.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def ensure_instance(settings: Settings) -> Path:
    """DAGSTER_HOME (default .dagster/ beside kpi.yaml) with our dagster.yaml; returns it."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.base_dir / ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


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


def _progress_logger(out: TextIO) -> dg.LoggerDefinition:
    @dg.logger(description="One line per asset step for the kpi command.")
    def progress(_init_context: dg.InitLoggerContext) -> logging.Logger:
        log = logging.getLogger(f"kpi.progress.{id(out)}")
        log.setLevel(logging.DEBUG)
        log.propagate = False

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                meta = getattr(record, "dagster_meta", None) or {}
                event = meta.get("dagster_event")
                step = meta.get("step_key") or ""
                name = step.replace("__", "/", 1)
                if event is None:
                    if record.levelno >= logging.WARNING:
                        out.write(f"    ! {meta.get('orig_message', record.getMessage())}\n")
                    return
                kind = event.event_type
                if kind == DagsterEventType.STEP_START:
                    out.write(f"  > {name}\n")
                elif kind == DagsterEventType.STEP_FAILURE:
                    error = event.step_failure_data.error
                    while error is not None and error.cause is not None:
                        error = error.cause
                    message = error.message.strip() if error else "failed"
                    out.write(f"  x {name} failed: {message}\n")
                elif kind == DagsterEventType.STEP_SKIPPED:
                    out.write(f"  - {name} skipped (an upstream step failed)\n")
                elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                    data = event.event_specific_data
                    if not data.passed:
                        out.write(f"    ! check {data.check_name} on {data.asset_key.to_user_string()} did not pass\n")
                out.flush()

        log.handlers = [Handler()]
        return log

    return progress


def run_pipeline(
    settings: Settings,
    as_of: dt.date,
    *,
    sources: list[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    out: TextIO | None = None,
) -> RunOutcome:
    """Materialize the selected sources' streams and everything downstream, in one run."""
    out = out or sys.stdout
    ensure_instance(settings)
    defs = build_definitions(settings)
    defs = dg.Definitions.merge(defs, dg.Definitions(loggers={"progress": _progress_logger(out)}))
    job = defs.resolve_job_def(NIGHTLY_JOB)
    graph = defs.resolve_asset_graph()
    selection = dg.AssetSelection.all()
    if sources:
        # the chosen sources' streams, and every model, snapshot, report and publish step: a model
        # reads all its upstream tables, and on a new warehouse those of the other sources (and the
        # Python tables like kpis.parameters) exist only once their assets have run
        others = [s for s in settings.enabled_sources() if s not in sources]
        selection = dg.AssetSelection.all() - dg.AssetSelection.groups(*others)
    keys = sorted(selection.resolve(graph))
    run_config = {"loggers": {"progress": {}}}
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, tags=run_tags(settings, as_of, start, end, sources),
                                        asset_selection=keys, raise_on_error=False, run_config=run_config)
        failed_raw = [e.step_key for e in result.all_events
                      if e.event_type == DagsterEventType.STEP_FAILURE and (e.step_key or "").startswith("raw__")]
        if failed_raw:
            # the scorecard still moves on: what did load is used, what did not shows no_data
            out.write("  refreshing models and the scorecard from the data that did load\n")
            refresh = defs.resolve_job_def(REFRESH_JOB)
            refresh_keys = [k for k in keys if k.path[0] != "raw"]
            refresh.execute_in_process(instance=instance, tags={AS_OF_TAG: as_of.isoformat(),
                                                                "kpi/refresh_after": result.run_id},
                                       asset_selection=refresh_keys, raise_on_error=False, run_config=run_config)
    streams: list[StreamLine] = []
    failures: list[str] = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            key = mat.asset_key.to_user_string()
            if not key.startswith("raw/") or any(s.asset == key for s in streams):
                continue
            md = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
            streams.append(StreamLine(key, int(md.get("rows", 0)), int(md.get("requests", 0)),
                                      float(md.get("seconds", 0.0)), str(md.get("window", ""))))
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            failures.append(event.step_key or "?")
    return RunOutcome(result.success, result.run_id, streams, failures)


def summary_lines(outcome: RunOutcome) -> list[str]:
    """One line per stream: rows landed, HTTP requests made, seconds."""
    width = max((len(s.asset) for s in outcome.streams), default=10)
    lines = [f"{s.asset.ljust(width)}  {s.rows:>8,} rows  {s.requests:>5} requests  {s.seconds:>6.1f}s  {s.window}"
             for s in outcome.streams]
    if outcome.failures:
        lines.append(f"failed: {', '.join(f.replace('__', '/', 1) for f in outcome.failures)}")
    return lines
