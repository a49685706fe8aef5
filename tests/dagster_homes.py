"""A fresh Dagster instance home, and pretending an untested Dagster, for the tests of kpi's uses
of Dagster's internals (tests/test_dagster_private.py, tests/test_dagster_private_stops.py)."""

from pathlib import Path

from kpi_pipeline.orchestration import dagster_private
from kpi_pipeline.orchestration.instance_setup import EVENT_LOG_BLOCK, INSTANCE_YAML

UNTESTED = "1.99.0"


def dagster_home(tmp_path: Path, monkeypatch) -> Path:
    """A fresh DAGSTER_HOME whose dagster.yaml names our event log,
    as `kpi init-instance` writes it."""
    folder = tmp_path / ".dagster"
    folder.mkdir()
    (folder / "dagster.yaml").write_text(INSTANCE_YAML + EVENT_LOG_BLOCK)
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    monkeypatch.delenv(dagster_private.PRETEND_ENV, raising=False)
    monkeypatch.setitem(dagster_private._warned, "done", False)
    return folder


def pretend_untested(monkeypatch) -> None:
    """The adapter sees Dagster ``UNTESTED`` (not warned yet in this process)."""
    monkeypatch.setenv(dagster_private.PRETEND_ENV, UNTESTED)
    monkeypatch.setitem(dagster_private._warned, "done", False)
