"""The event log ``dagster.yaml`` names (``kpi_pipeline.event_log.EventLogStorage``), so that the
UI, the daemon and every run worker get the same one.

On a Dagster version kpi was tested with, it is Dagster's SQLite event log with kept engines and
batched writes; on any other, Dagster's stock SQLite event log (same files), with one warning.
Both live in :mod:`kpi_pipeline.orchestration.dagster_private`, the one module that touches
Dagster's internals; the storage is chosen each time Dagster builds an instance, so an instance file
written before an upgrade of Dagster keeps working after it.
"""

from __future__ import annotations

from kpi_pipeline.orchestration.dagster_private import event_log_storage_class

# a class bound at import (Dagster's instance loading needs a plain attribute); it picks ours or
# Dagster's stock storage each time an instance is built
EventLogStorage = event_log_storage_class()
