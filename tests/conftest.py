"""Shared fixtures: a fixed as-of, the sandbox on loopback, config files in tmp dirs."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from connectors.http import RetryPolicy
from connectors.sandbox import Sandbox

AS_OF = dt.date(2026, 11, 15)


@pytest.fixture(scope="session")
def sandbox():
    """One sandbox per test process, its world complete through AS_OF."""
    with Sandbox(AS_OF) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _clean_faults(sandbox):
    yield
    for server in sandbox.servers.values():
        server.clear_faults()


@pytest.fixture
def fast_policy():
    """A retry policy that records its waits instead of sleeping."""
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=4, backoff_base=0.01, sleep=waits.append)
    policy.waits = waits  # type: ignore[attr-defined]
    return policy


def write_config(folder: Path, text: str) -> Path:
    path = folder / "kpi.yaml"
    path.write_text(textwrap.dedent(text))
    return path


LIVE_CONFIG = """\
business: Studio Lumen
timezone: Europe/Brussels
currency: EUR
demo: false
warehouse: data/warehouse.duckdb
history_start: {history_start}
sources:
  mailchimp: {{api_key: "${{MAILCHIMP_API_KEY}}", base_url: "{mailchimp_url}", lookback_days: 14}}
targets:
  newsletter_subscribers: {{month: 2400}}
  newsletter_new_subscribers: {{week: 25, month: 110, quarter: 330}}
  email_open_rate: {{month: 0.30, quarter: 0.30}}
  newsletter_unsubscribes: {{month: 40}}
"""


@pytest.fixture
def live_config(tmp_path, sandbox, monkeypatch):
    """kpi.yaml pointing at the sandbox like a real deployment (not demo mode)."""
    from connectors.sandbox import CREDENTIALS

    monkeypatch.setenv("MAILCHIMP_API_KEY", CREDENTIALS["mailchimp"]["api_key"])
    monkeypatch.setenv("KPI_TODAY", (AS_OF + dt.timedelta(days=1)).isoformat())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))
    monkeypatch.delenv("KPI_WAREHOUSE", raising=False)
    monkeypatch.delenv("KPI_AS_OF", raising=False)
    return write_config(tmp_path, LIVE_CONFIG.format(history_start="2026-05-01",
                                                     mailchimp_url=sandbox.urls["mailchimp"]))
