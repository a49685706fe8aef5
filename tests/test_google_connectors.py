"""GA4 and Google Ads: the quirks docs/PLATFORMS.md lists for them."""

import datetime as dt

import pytest

from connectors.errors import AuthenticationError, ConfigurationError
from connectors.ga4 import connector as ga4
from connectors.google_ads import connector as google_ads
from connectors.sandbox import CREDENTIALS
from connectors.streams import Window
from tests.conftest import AS_OF
from tests.connector_runs import client, load

# --------------------------------------------------------------------------- GA4


def test_ga4_uses_the_official_client_over_rest_with_a_service_account(sandbox, fast_policy):
    c = client(sandbox, ga4, fast_policy)
    rows = list(c.report("t", ["date"], ["sessions"], AS_OF - dt.timedelta(days=2), AS_OF))
    assert [r["date"] for r in rows] == ["20261113", "20261114", "20261115"]
    request = sandbox.ga4.server.requests[-1]
    assert request.query["$alt"] == "json;enum-encoding=int"
    assert request.headers["authorization"].startswith(
        "Bearer ey"
    )  # a JWT signed with the key file
    body = request.json()
    assert body["limit"] == "100000" and body["returnPropertyQuota"] is True  # int64 as strings
    assert c.time_zone == "Europe/Brussels" and c.quota["tokens_per_hour"]["remaining"] > 0


def test_ga4_report_without_rows_is_empty_not_an_error(sandbox, fast_policy):
    c = client(sandbox, ga4, fast_policy)
    assert (
        list(c.report("t", ["date"], ["sessions"], dt.date(2024, 6, 1), dt.date(2024, 6, 3))) == []
    )


def test_ga4_pages_with_limit_and_offset(sandbox, fast_policy, monkeypatch):
    monkeypatch.setattr(ga4, "PAGE_ROWS", 5)
    c = client(sandbox, ga4, fast_policy)
    rows = list(
        c.report(
            "t",
            ["date", "sessionDefaultChannelGroup"],
            ["sessions"],
            AS_OF - dt.timedelta(days=3),
            AS_OF,
        )
    )
    assert len(rows) == len({(r["date"], r["sessionDefaultChannelGroup"]) for r in rows}) > 20
    assert c.stats.requests == -(-len(rows) // 5)


def test_ga4_visitors_of_a_month_are_asked_for_exactly(sandbox, fast_policy):
    wh, _ = load(
        sandbox,
        ga4,
        "users_by_period",
        fast_policy,
        Window(dt.date(2026, 10, 31), dt.date(2026, 10, 31)),
    )
    (users,) = wh.query(
        "select total_users from raw.ga4__users_by_period where start_date = date '2026-10-01' "
        "and end_date = date '2026-10-31' and channel = '(all)'"
    )[0]
    days = sum(
        sandbox.world.web.users(dt.date(2026, 10, d), dt.date(2026, 10, d)) for d in range(1, 32)
    )
    assert users == sandbox.world.web.users(dt.date(2026, 10, 1), dt.date(2026, 10, 31)) < days


def test_ga4_bad_key_file_is_a_configuration_error_naming_the_setting(tmp_path):
    bad = tmp_path / "key.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError, match="sources.ga4.credentials_file"):
        ga4.connect({"property_id": "1", "credentials_file": str(bad)})


def test_ga4_hourly_quota_exhaustion_waits_for_the_quota_not_a_blind_backoff(sandbox):
    from connectors.http import RetryPolicy

    waits = []
    policy = RetryPolicy(max_attempts=3, max_total_wait=4000, sleep=waits.append)
    sandbox.ga4.server.inject(
        r"runReport",
        status=429,
        times=1,
        body={
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "message": "Exhausted property tokens per hour for a project per property.",
            }
        },
    )
    list(client(sandbox, ga4, policy).report("t", ["date"], ["sessions"], AS_OF, AS_OF))
    assert len(waits) == 1 and 0 < waits[0] <= 3600


def test_ga4_forbidden_property_names_the_credentials(sandbox, fast_policy):
    with pytest.raises(AuthenticationError, match="sources.ga4.credentials_file"):
        list(
            client(sandbox, ga4, fast_policy, property_id="999999").report(
                "t", ["date"], ["sessions"], AS_OF, AS_OF
            )
        )


# --------------------------------------------------------------------------- Google Ads


def test_google_ads_stream_of_batches_with_micros_and_int64_strings(sandbox, fast_policy):
    wh, _ = load(
        sandbox,
        google_ads,
        "campaign_daily",
        fast_policy,
        Window(dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
    )
    truth = sandbox.world.truth_ads(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "google")
    impressions, clicks, micros = wh.query(
        "select sum(impressions), sum(clicks), sum(cost_micros) from raw.google_ads__campaign_daily"
    )[0]
    assert (impressions, clicks, micros) == (
        truth["impressions"],
        truth["clicks"],
        round(truth["spend"] * 1_000_000),
    )
    search = [r for r in sandbox.google_ads.server.requests if r.path.endswith(":searchStream")][-1]
    assert search.headers["developer-token"] == CREDENTIALS["google_ads"]["developer_token"]
    assert "login-customer-id" not in search.headers


def test_google_ads_bad_refresh_token_names_the_oauth_settings(sandbox, fast_policy):
    with pytest.raises(AuthenticationError, match="refresh_token") as info:
        load(
            sandbox,
            google_ads,
            "campaign_daily",
            fast_policy,
            Window(AS_OF, AS_OF),
            refresh_token="revoked-xyz",
        )
    assert "invalid_grant" in str(info.value) and "revoked-xyz" not in str(info.value)


def test_google_ads_wrong_manager_account_says_to_set_login_customer_id(sandbox, fast_policy):
    with pytest.raises(AuthenticationError, match="login_customer_id"):
        load(
            sandbox,
            google_ads,
            "campaign_daily",
            fast_policy,
            Window(AS_OF, AS_OF),
            login_customer_id="999-888-7777",
        )
    _, ok = load(
        sandbox,
        google_ads,
        "campaign_daily",
        fast_policy,
        Window(AS_OF, AS_OF),
        login_customer_id="111-222-3333",
    )
    assert ok.rows > 0
    assert sandbox.google_ads.server.requests[-1].headers["login-customer-id"] == "1112223333"


def test_google_ads_quota_error_waits_its_retry_delay(sandbox):
    from connectors.http import RetryPolicy

    waits = []
    sandbox.google_ads.server.inject(r"searchStream", status=429, times=1)
    load(
        sandbox, google_ads, "campaign_daily", RetryPolicy(sleep=waits.append), Window(AS_OF, AS_OF)
    )
    assert waits == [30.0]


def test_listing_every_platforms_streams_leaves_googles_sdk_unimported():
    """Every process that loads a business's definitions lists every platform's streams; Google's
    SDK (~0.3 s) is imported by a GA4 client only."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    code = (
        "import sys; from connectors.registry import sources; sources(); "
        "print(sorted(m for m in sys.modules if m.startswith(('google.analytics', "
        "'google.oauth2'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    ).stdout
    assert out.strip() == "[]"
