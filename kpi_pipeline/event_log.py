"""The event log ``dagster.yaml`` names (``kpi_pipeline.event_log.EventLogStorage``), so that the
UI, the daemon and every run worker get the same one.

On a Dagster version kpi was tested with, it is Dagster's SQLite event log with kept engines and
batched writes; on any other, Dagster's stock SQLite event log (same files), with one warning.
Both live in :mod:`kpi_pipeline.dagster_private`, the one module that touches Dagster's internals;
the class is chosen each time Dagster looks it up, so an instance file written before an upgrade
of Dagster keeps working after it.
"""

from __future__ import annotations

from typing import Any

from kpi_pipeline.dagster_private import event_log_storage_class


def __getattr__(name: str) -> Any:
    if name == "EventLogStorage":
        return event_log_storage_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
