"""The shipped demo business in a test's folder: its kpi.yaml (demo mode) and manual CSV, served by
the test's sandbox, and a Dutch copy of its configuration over the same warehouse."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def demo_business(
    mp: pytest.MonkeyPatch, sandbox: Any, folder: Path, history_start: dt.date
) -> str:
    """The shipped kpi.yaml (demo mode) and its manual CSV in ``folder``, its history from
    ``history_start``, served by ``sandbox``: the text of the kpi.yaml written."""
    from tests.conftest import live_environment

    live_environment(mp, sandbox, folder)
    (folder / "data").mkdir()
    shutil.copy(ROOT / "data" / "manual_metrics.csv", folder / "data" / "manual_metrics.csv")
    text = (ROOT / "kpi.yaml").read_text()
    assert "demo: true" in text and "history_start: 2025-10-01" in text
    text = text.replace("history_start: 2025-10-01", f"history_start: {history_start}")
    (folder / "kpi.yaml").write_text(text)
    return text


def dutch_copy(folder: Path, text: str) -> Path:
    """``folder``/nl/kpi.yaml: the business's ``text`` in Dutch, over the same warehouse and CSV."""
    (folder / "nl").mkdir()
    path = folder / "nl" / "kpi.yaml"
    path.write_text(
        text.replace("language: en", "language: nl")
        .replace(
            "warehouse: data/warehouse.duckdb", f"warehouse: {folder / 'data/warehouse.duckdb'}"
        )
        .replace("path: data/manual_metrics.csv", f"path: {folder / 'data/manual_metrics.csv'}")
    )
    return path
