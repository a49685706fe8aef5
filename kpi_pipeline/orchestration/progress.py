"""A run's progress for the kpi command: one line per asset step, and what the supervisor of the
run needs to know (a step waiting for a pool, the causes of failed steps)."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import dagster as dg
from dagster import DagsterEventType

from kpi_pipeline.orchestration.instance_state import POOL
from kpi_pipeline.orchestration.kpi_checks import is_kpi_check
from kpi_pipeline.reporting.alerts import root_message
from kpi_pipeline.sources.windows import PROGRESS_MARK


@dataclass
class Watch:
    """What the progress logger saw, for the thread that supervises the run."""

    blocked_since: float | None = None
    blocked_pool: str = POOL  # the pool a step waits for (a portfolio has several)
    causes: dict[str, list[str]] = field(default_factory=dict)
    steps: int = 0  # steps the current run plans, for "(5/65, 12s)" on each step's line
    started_steps: int = 0
    started: float = field(default_factory=time.monotonic)

    def plan(self, job: Any, keys: list[dg.AssetKey]) -> None:
        """Count the steps of ``job`` over ``keys`` (assets and their separate checks) afresh."""
        self.steps = len(job.get_subset(asset_selection=set(keys)).graph.nodes)
        self.started_steps = 0


def progress_logger(out: TextIO, watch: Watch) -> dg.LoggerDefinition:
    @dg.logger(None, description="One line per asset step for the kpi command.")  # None: no config
    def progress(_init_context: dg.InitLoggerContext) -> logging.Logger:
        log = logging.getLogger(f"kpi.progress.{id(out)}.{id(watch)}")
        log.setLevel(logging.DEBUG)
        log.propagate = False

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                meta = getattr(record, "dagster_meta", None) or {}
                event = meta.get("dagster_event")
                step = meta.get("step_key") or ""
                name = step.replace("__", "/", 1)
                if event is None:
                    message = meta.get("orig_message", record.getMessage())
                    if record.levelno >= logging.WARNING:
                        out.write(f"    ! {message}\n")
                    elif message.startswith(PROGRESS_MARK):
                        out.write(f"    {message.removeprefix(PROGRESS_MARK)}\n")
                        out.flush()
                    return
                kind = event.event_type
                if kind == DagsterEventType.STEP_START:
                    watch.blocked_since = None
                    watch.started_steps += 1
                    out.write(
                        f"  > {name}  ({watch.started_steps}/{watch.steps}, "
                        f"{time.monotonic() - watch.started:.0f}s)\n"
                    )
                elif kind == DagsterEventType.ENGINE_EVENT and "blocked by limit for pool" in (
                    event.message or ""
                ):
                    if watch.blocked_since is None:
                        watch.blocked_since = time.monotonic()
                        found = re.search(
                            r"blocked by limit for pool (\S+?)[.,]?(\s|$)", event.message or ""
                        )
                        watch.blocked_pool = found[1] if found else POOL
                elif kind == DagsterEventType.STEP_FAILURE:
                    message = root_message(event.step_failure_data.error)
                    steps = watch.causes.setdefault(message, [])
                    steps.append(name)
                    # one cause, said once: a disk that is full fails every later step the same way
                    out.write(
                        f"  x {name} failed: {message}\n"
                        if len(steps) == 1
                        else f"  x {name} failed (the same cause)\n"
                    )
                elif kind == DagsterEventType.STEP_SKIPPED:
                    out.write(f"  - {name} skipped (an upstream step failed)\n")
                elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                    data = event.event_specific_data
                    # a KPI's verdict is no data problem: the sync ends with the scorecard's
                    if not data.passed and not is_kpi_check(data.asset_key, data.check_name):
                        out.write(
                            f"    ! check {data.check_name} on {data.asset_key.to_user_string()} "
                            "did not pass\n"
                        )
                out.flush()

        log.handlers = [Handler()]
        return log

    return progress
