"""Shared fixtures: a fixed as-of, the sandbox on loopback, config files in tmp dirs."""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from pathlib import Path

import pytest

# helper modules shared by test files (not test modules themselves): plain asserts still explain
pytest.register_assert_rewrite("tests.expected_kpis", "tests.subsets", "tests.fault_loads")

from connectors.http import RetryPolicy  # noqa: E402 - after the rewrite's registration
from connectors.registry import platforms  # noqa: E402
from connectors.sandbox import Sandbox  # noqa: E402

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
{sources}
custom_kpis:
  - {{id: treatments_performed, label: Treatments performed, domain: production, aggregation: sum}}
  - {{id: support_tickets_solved, label: Support tickets solved, domain: customer_service, aggregation: sum}}
  - {{id: staff_sick_days, label: Staff sick days, domain: hr, aggregation: sum, direction: lower}}
targets:
  newsletter_subscribers: {{month: 2400}}
  newsletter_new_subscribers: {{week: 25, month: 110, quarter: 330}}
  email_open_rate: {{month: 0.30, quarter: 0.30}}
  newsletter_unsubscribes: {{month: 40}}
  website_visitors: {{month: 4000}}
  ad_cpc: {{month: 0.70}}
"""  # noqa: E501


def live_environment(mp: pytest.MonkeyPatch, sandbox, folder: Path) -> None:
    """Credentials in the environment, as an operator would set them for real accounts: every
    ``${VAR}`` a platform's block of SOURCE_BLOCKS names, set to the setting that reaches the
    sandbox (its emulator's CREDENTIALS, GA4's key file)."""
    for variable, value in credential_variables(sandbox.settings_for).items():
        mp.setenv(variable, value)
    mp.setenv("KPI_TODAY", (AS_OF + dt.timedelta(days=1)).isoformat())
    mp.setenv("DAGSTER_HOME", str(folder / ".dagster"))
    mp.delenv("KPI_WAREHOUSE", raising=False)
    mp.delenv("KPI_AS_OF", raising=False)


@pytest.fixture
def live_config(tmp_path, sandbox, monkeypatch):
    """kpi.yaml pointing at the sandbox like a real deployment (not demo mode)."""
    live_environment(monkeypatch, sandbox, tmp_path)
    return write_config(tmp_path, live_config_text(sandbox, "2026-05-01"))


def live_config_text(sandbox, history_start) -> str:
    """LIVE_CONFIG with every platform's block (credentials from the environment)."""
    sources = "\n".join("  " + source_block(sandbox, name) for name in platforms())
    return LIVE_CONFIG.format(history_start=history_start, sources=sources)


@pytest.fixture(scope="module")
def synced_template(tmp_path_factory):
    """A small demo business (Stripe and the CSV, six weeks) after one sync by a `kpi` process, made
    once per module (test_recovery.py, test_storage_problems.py); each test gets a copy."""
    # late: tests.sync_processes imports this module
    from tests.sync_processes import synced_small_setup

    return synced_small_setup(tmp_path_factory.mktemp("template"))


@pytest.fixture
def small_business(tmp_path, monkeypatch, synced_template):
    """A copy of the synced small business, the environment pointing at it; its kpi.yaml."""
    from tests.sync_processes import synced_copy  # late: tests.sync_processes imports this module

    return synced_copy(synced_template, tmp_path, monkeypatch)


def business_copy(path: Path, tmp_path: Path, mp: pytest.MonkeyPatch):
    """A copy of a synced business's folder (kpi.yaml, warehouse, DAGSTER_HOME) for a test that
    syncs it again: the module's shared one stays as synced, whatever order the tests run in.

    Returns:
        (settings, kpi.yaml path) of the copy, with DAGSTER_HOME pointing at the copy's.
    """
    import shutil

    from kpi_pipeline.config.settings import load_config

    folder = tmp_path / "business"
    shutil.copytree(path.parent, folder)
    mp.setenv("DAGSTER_HOME", str(folder / ".dagster"))
    copy = folder / path.name
    return load_config(copy), copy


MANUAL_CSV = Path(__file__).resolve().parent.parent / "data" / "manual_metrics.csv"


# The test business's block of each platform, as an operator writes it (the credentials' variables
# those of the demo's kpi.yaml; Meta's token serves Instagram too); a platform without one gets the
# settings that reach its emulator (source_block).
SOURCE_BLOCKS = {
    "mailchimp": (
        'mailchimp: {{api_key: "${{MAILCHIMP_API_KEY}}", base_url: "{urls[mailchimp]}", '
        "lookback_days: 14}}"
    ),
    "ga4": (
        'ga4: {{property_id: "123456789", '
        'credentials_file: "${{GOOGLE_APPLICATION_CREDENTIALS}}", base_url: "{urls[ga4]}"}}'
    ),
    "meta_ads": (
        'meta_ads: {{ad_account_id: act_1234567890, access_token: "${{META_ACCESS_TOKEN}}", '
        'base_url: "{urls[meta_ads]}"}}'
    ),
    "google_ads": (
        'google_ads: {{customer_id: "123-456-7890", '
        'developer_token: "${{GOOGLE_ADS_DEVELOPER_TOKEN}}", '
        'client_id: "${{GOOGLE_ADS_CLIENT_ID}}", client_secret: "${{GOOGLE_ADS_CLIENT_SECRET}}", '
        'refresh_token: "${{GOOGLE_ADS_REFRESH_TOKEN}}", base_url: "{urls[google_ads]}", '
        'token_uri: "{urls[google_ads]}/token"}}'
    ),
    "instagram": (
        'instagram: {{user_id: "17841400000000000", access_token: "${{META_ACCESS_TOKEN}}", '
        'base_url: "{urls[instagram]}"}}'
    ),
    "stripe": 'stripe: {{api_key: "${{STRIPE_API_KEY}}", base_url: "{urls[stripe]}"}}',
    "calendly": (
        'calendly: {{token: "${{CALENDLY_TOKEN}}", base_url: "{urls[calendly]}", '
        'intro_call_event_types: ["intro call"]}}'
    ),
    "hubspot": 'hubspot: {{token: "${{HUBSPOT_TOKEN}}", base_url: "{urls[hubspot]}"}}',
    "manual": 'manual: {{path: "{manual_csv}"}}',
}
ENVIRONMENT_REFERENCE = re.compile(
    r'(\w+): "\$\{\{(\w+)\}\}"'
)  # setting: "${{VARIABLE}}" in a block
CUSTOM_KPIS = """\
custom_kpis:
  - {id: treatments_performed, label: Treatments performed, domain: production, aggregation: sum}
  - {id: support_tickets_solved, label: Support tickets solved, domain: customer_service, aggregation: sum}
  - {id: staff_sick_days, label: Staff sick days, domain: hr, aggregation: sum, direction: lower}
"""  # noqa: E501


def credential_variables(settings_for, sources=None) -> dict[str, str]:
    """Every ``${VAR}`` the blocks of ``sources`` (default: all) name -> the value of its setting in
    ``settings_for(source)`` (``Sandbox.settings_for``; the emulators' CREDENTIALS for a test with
    no sandbox running)."""
    return {
        variable: str(settings_for(source)[setting])
        for source, block in SOURCE_BLOCKS.items()
        if sources is None or source in sources
        for setting, variable in ENVIRONMENT_REFERENCE.findall(block)
    }


def source_block(sandbox, source: str) -> str:
    """A source's line under ``sources:``: the hand-written one (credentials from the environment),
    else, for a platform added since, the settings that reach its emulator."""
    if source in SOURCE_BLOCKS:
        return SOURCE_BLOCKS[source].format(urls=sandbox.urls, manual_csv=MANUAL_CSV)
    return f"{source}: {json.dumps(sandbox.settings_for(source))}"


def subset_config(
    folder: Path,
    sandbox,
    sources: list[str],
    history_start: dt.date,
    *,
    week_start: str = "monday",
    extra: str = "",
) -> Path:
    """kpi.yaml with only ``sources`` (sandbox URLs, credentials from the environment)."""
    blocks = "\n".join("  " + source_block(sandbox, s) for s in sources)
    text = (
        "business: Studio Lumen\ntimezone: Europe/Brussels\ncurrency: EUR\nweek_start: "
        f"{week_start}\ndemo: false\nwarehouse: data/warehouse.duckdb\nhistory_start: "
        f"{history_start}\n"
        f"sources:\n{blocks}\n" + (CUSTOM_KPIS if "manual" in sources else "") + extra
    )
    path = folder / "kpi.yaml"
    path.write_text(text)
    return path


# The slowest modules first, longest first (wall time under load, `--durations`): with
# `-n 3 --dist loadfile` each worker takes the next file when it is free, so starting with the
# long ones keeps all three busy to the end (longest-processing-time-first scheduling).
SLOW_MODULES = (
    "test_portfolio_nightly.py",
    "test_e2e.py",
    "test_recovery.py",
    "test_portfolio_e2e.py",
    "test_portfolio_demo.py",
    "test_subsets.py",
    "test_storage_problems.py",
    "test_people_and_money.py",
    "test_subsets_combined.py",
    "test_scorecard_browser.py",
    "test_nightly.py",
    "test_e2e_sunday.py",
    "test_crash.py",
    "test_catch_up.py",
    "test_alerts.py",
    "test_ui.py",
    "test_faults.py",
    "test_fault_cases.py",
    "test_contract.py",
)


def pytest_addoption(parser):
    parser.addoption(
        "--order",
        choices=("slow-first", "random", "reverse"),
        default="slow-first",
        help="slow-first (default): SLOW_MODULES first, the rest as pytest-randomly shuffled "
        "them; random: pytest-randomly's shuffle as it is; reverse: collection order "
        "reversed (with -p no:randomly). Every order must pass (issue 22).",
    )


def pytest_collection_modifyitems(config, items):
    order = config.getoption("order")
    randomly = config.pluginmanager.hasplugin("randomly") and config.getoption(
        "randomly_reorganize", False
    )
    if order == "reverse":
        if (
            randomly
        ):  # pytest-randomly shuffled first (its hook wraps this one): reversed would be random
            raise pytest.UsageError("--order=reverse reverses the file order: add -p no:randomly")
        items.reverse()
    elif order == "slow-first":
        # a stable sort: pytest-randomly's shuffle (it runs before this hook)
        # stays within each group
        rank = {name: i for i, name in enumerate(SLOW_MODULES)}
        items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_MODULES)))


def pytest_terminal_summary(terminalreporter, config):
    # `-q` hides pytest-randomly's header: the seed goes at the end, to repeat a failing order
    if config.pluginmanager.hasplugin("randomly") and config.getoption(
        "randomly_reorganize", False
    ):
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line(
            f"order: {config.getoption('order')}, repeat it with --randomly-seed={seed}"
        )
