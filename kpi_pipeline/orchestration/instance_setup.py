"""DAGSTER_HOME's files: dagster.yaml (pools, run queue, monitoring, freshness, the batched event
log), workspace.yaml (the business's code location, or a portfolio's one per business), and a
portfolio's platform pool limits."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import dagster as dg
from filelock import FileLock

from kpi_pipeline.config.settings import API_POOL_LIMITS, Settings
from kpi_pipeline.orchestration.dagster_private import tested
from kpi_pipeline.portfolio.businesses import (
    instance_home,
)
from kpi_pipeline.portfolio.businesses import (
    write_workspace as write_portfolio_workspace,
)

INSTANCE_YAML = """\
# Written by kpi-pipeline. Every asset that writes DuckDB runs in the pool "duckdb", one at a time.
concurrency:
  pools:
    default_limit: 1
# runs the daemon launches: a run whose worker died is marked failed and its pool slot freed
# (runs of `kpi sync` run in its own process; it repairs those itself, see `kpi doctor`)
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 60
telemetry:
  enabled: false
# the UI shows a raw stream or the scorecard stale when the nightly run missed its deadline
freshness:
  enabled: true
"""
FRESHNESS_BLOCK = "\nfreshness:\n  enabled: true\n"
# Dagster's SQLite event log (same files), writing a batch of partition materializations in one
# transaction as its Postgres event log does (kpi_pipeline/event_log.py; README "Performance").
# An instance with storage of its own (PostgreSQL) keeps it. On a Dagster version kpi was not
# tested with, a new instance gets Dagster's default storage, and one that names ours gets
# Dagster's stock class through it (kpi_pipeline/orchestration/dagster_private.py):
# the yaml is never rewritten.
EVENT_LOG_BLOCK = """
event_log_storage:
  module: kpi_pipeline.event_log
  class: EventLogStorage
  config: {}
"""
# a portfolio: the daemon runs this many businesses' nightly runs at a time (2 cores: 2),
# the rest queue
PORTFOLIO_RUNS = "  runs:\n    max_concurrent_runs: 2\n"


def ensure_instance(settings: Settings) -> Path:
    """DAGSTER_HOME (default .dagster/ beside kpi.yaml, or the portfolio's) with our dagster.yaml;
    returns it."""
    if settings.portfolio_root is not None:
        return ensure_portfolio_instance(settings.portfolio_root)
    home = Path(os.environ.get("DAGSTER_HOME") or settings.base_dir / ".dagster").resolve()
    _instance_yaml(home)
    write_workspace(settings, home)
    return home


def ensure_portfolio_instance(root: Path) -> Path:
    """The portfolio's one instance: a code location per business, the platforms' pool limits."""
    home = instance_home(root)
    _instance_yaml(home, PORTFOLIO_RUNS)
    write_portfolio_workspace(root, home)
    set_api_pools(home)
    return home


def _instance_yaml(home: Path, extra: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        text = INSTANCE_YAML.replace("    default_limit: 1\n", "    default_limit: 1\n" + extra, 1)
        config.write_text(text + (EVENT_LOG_BLOCK if tested() else ""))
    text = config.read_text()
    if not re.search(r"^freshness:", text, flags=re.MULTILINE):
        with config.open("a") as handle:  # an instance made before freshness policies: turn them on
            handle.write(FRESHNESS_BLOCK)
    if not re.search(r"^(storage|event_log_storage):", text, flags=re.MULTILINE) and tested():
        with config.open(
            "a"
        ) as handle:  # an instance on Dagster's default SQLite storage: batched writes
            handle.write(EVENT_LOG_BLOCK)
    os.environ["DAGSTER_HOME"] = str(home)


def set_api_pools(home: Path) -> None:
    """The platforms' pools get their slots once (an operator's own limit is kept)."""
    marker = home / ".api_pools"
    if marker.exists():
        return
    with FileLock(
        str(home / ".api_pools.lock")
    ):  # businesses' processes starting together: one sets them
        if marker.exists():
            return
        with dg.DagsterInstance.get() as instance:
            known = instance.event_log_storage.get_concurrency_keys()
            for pool, slots in API_POOL_LIMITS.items():
                if pool not in known:
                    instance.event_log_storage.set_concurrency_slots(pool, slots)
        marker.write_text(
            "the platforms' pool limits were set; `dagster instance concurrency set` changes them\n"
        )


def write_workspace(settings: Settings, home: Path) -> Path:
    """DAGSTER_HOME/workspace.yaml: the project's code location, named after the business, so the
    UI and the daemon show "studio_lumen" rather than "definitions.py"."""
    project = Path(__file__).resolve().parents[2]
    path = home / "workspace.yaml"
    text = (
        "# Written by kpi-pipeline (kpi init-instance): the code location of this kpi.yaml.\n"
        "load_from:\n  - python_file:\n"
        f"      relative_path: {json.dumps(str(project / 'definitions.py'))}\n"
        f"      working_directory: {json.dumps(str(settings.base_dir.resolve()))}\n"
        f"      location_name: {json.dumps(settings.business_id)}\n"
    )
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
