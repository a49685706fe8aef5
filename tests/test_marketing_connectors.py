"""GA4, Meta Ads, Google Ads and Instagram: the quirks docs/PLATFORMS.md lists for them."""

import datetime as dt
import json

import pytest

from connectors.errors import AuthenticationError, ConfigurationError, RateLimitedError
from connectors.ga4 import connector as ga4
from connectors.google_ads import connector as google_ads
from connectors.instagram import connector as instagram
from connectors.meta_ads import connector as meta_ads
from connectors.sandbox import CREDENTIALS
from connectors.streams import StreamContext, Window
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sources.windows import stream_context
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF

SETTINGS = load_config("kpi.yaml")


def client(sandbox, module, policy, **overrides):
    c = module.connect({**sandbox.settings_for(module.PLATFORM), **overrides})
    c.policy = policy
    return c


def ctx(snapshot=AS_OF):
    context = stream_context(SETTINGS, AS_OF)
    context.snapshot_date = snapshot
    context.today = AS_OF + dt.timedelta(
        days=1
    )  # the session sandbox's clock: its world runs through AS_OF
    return context


def load(sandbox, module, stream, policy, window, wh=None, context=None, **overrides):
    wh = wh or Warehouse(":memory:", "t")
    result = load_stream(
        module.STREAMS[stream],
        client(sandbox, module, policy, **overrides),
        window,
        context or ctx(),
        wh,
    )
    return wh, result


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


# --------------------------------------------------------------------------- Meta Ads


def test_meta_numbers_arrive_as_strings_and_land_typed(sandbox, fast_policy):
    wh, result = load(
        sandbox,
        meta_ads,
        "campaign_insights",
        fast_policy,
        Window(dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
    )
    truth = sandbox.world.truth_ads(dt.date(2026, 10, 1), dt.date(2026, 10, 31), "meta")
    impressions, clicks, spend = wh.query(
        "select sum(impressions), sum(inline_link_clicks), sum(spend) "
        "from raw.meta_ads__campaign_insights"
    )[0]
    assert (impressions, clicks, float(spend)) == (
        truth["impressions"],
        truth["clicks"],
        truth["spend"],
    )
    assert (
        result.requests >= 2
    )  # cursor paging: 500-row pages... and at least one next link per 30 days
    assert (
        "access_token" in sandbox.meta.server.requests[-1].query
    )  # the token is a query parameter


def test_meta_reduce_the_amount_of_data_splits_the_range(sandbox, fast_policy):
    wh, result = load(
        sandbox,
        meta_ads,
        "campaign_insights",
        fast_policy,
        Window(dt.date(2026, 1, 1), dt.date(2026, 6, 30)),
    )
    assert result.rows > 0 and fast_policy.waits == []
    sandbox.meta.server.inject(
        r"/insights",
        status=500,
        times=1,
        body={
            "error": {
                "message": "Please reduce the amount of data you're asking for, "
                "then retry your request",
                "type": "OAuthException",
                "code": 1,
                "fbtrace_id": "X",
            }
        },
    )
    before = len(sandbox.meta.server.requests)
    _, again = load(
        sandbox,
        meta_ads,
        "campaign_insights",
        fast_policy,
        Window(dt.date(2026, 1, 1), dt.date(2026, 1, 30)),
    )
    spans = [
        json.loads(r.query["time_range"])
        for r in sandbox.meta.server.requests[before:]
        if "time_range" in r.query
    ]
    assert spans[0] == {"since": "2026-01-01", "until": "2026-01-30"}
    assert {"since": "2026-01-01", "until": "2026-01-15"} in spans and {
        "since": "2026-01-16",
        "until": "2026-01-30",
    } in spans
    assert again.rows == len(
        sandbox.world.ads.select(dt.date(2026, 1, 1), dt.date(2026, 1, 30), "meta")
    )


def test_meta_rate_limit_codes_wait_for_the_time_to_regain_access(sandbox):
    from connectors.http import RetryPolicy

    waits = []
    usage = json.dumps(
        {"1234567890": [{"type": "ads_insights", "estimated_time_to_regain_access": 2}]}
    )
    sandbox.meta.server.inject(
        r"/insights",
        status=400,
        times=1,
        headers={"X-Business-Use-Case-Usage": usage},
        body={
            "error": {
                "message": "(#17) User request limit reached",
                "code": 17,
                "error_subcode": 2446079,
                "type": "OAuthException",
                "fbtrace_id": "Y",
            }
        },
    )
    load(
        sandbox,
        meta_ads,
        "campaign_insights",
        RetryPolicy(sleep=waits.append),
        Window(AS_OF, AS_OF),
    )
    assert waits == [120.0]


@pytest.mark.parametrize("code", [4, 32, 613, 80000, 80004])
def test_meta_throttle_codes_are_rate_limits_whatever_the_http_status(code):
    from connectors.graph import graph_classifier

    class R:
        status_code = 400
        headers = {}

        def json(self):
            return {"error": {"message": "slow down", "code": code}}

    assert isinstance(graph_classifier("meta_ads", "x")(R(), "s", "/p"), RateLimitedError)


def test_meta_expired_token_names_the_access_token_setting(sandbox, fast_policy):
    with pytest.raises(AuthenticationError) as info:
        load(
            sandbox,
            meta_ads,
            "campaign_insights",
            fast_policy,
            Window(AS_OF, AS_OF),
            access_token="old-token-123",
        )
    assert "(#190/463)" in str(info.value) and "sources.meta_ads.access_token" in str(info.value)
    assert "old-token-123" not in str(info.value)


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


# --------------------------------------------------------------------------- Instagram


def test_instagram_never_asks_removed_metrics_or_mixes_metric_types(sandbox, fast_policy):
    load(
        sandbox, instagram, "daily_totals", fast_policy, Window(AS_OF - dt.timedelta(days=2), AS_OF)
    )
    load(
        sandbox,
        instagram,
        "follower_count",
        fast_policy,
        Window(AS_OF - dt.timedelta(days=20), AS_OF),
    )
    for req in sandbox.meta.server.requests:
        if req.path.endswith("/insights") and "metric" in req.query:
            metrics = set(req.query["metric"].split(","))
            assert "impressions" not in metrics
            assert int(req.query["until"]) - int(req.query["since"]) <= 30 * 86400
            if "follower_count" in metrics:
                assert metrics == {"follower_count"} and "metric_type" not in req.query
            if metrics & {"profile_views", "follows_and_unfollows"}:
                assert req.query["metric_type"] == "total_value"


def test_instagram_days_come_from_end_time_in_the_account_timezone(sandbox, fast_policy):
    wh, _ = load(
        sandbox,
        instagram,
        "follower_count",
        fast_policy,
        Window(AS_OF - dt.timedelta(days=9), AS_OF),
    )
    rows = dict(wh.query("select day, new_followers from raw.instagram__follower_count"))
    assert (
        rows == {d: sandbox.world.instagram.daily[d]["follows"] for d in rows}
        and max(rows) == AS_OF
    )
    assert len(rows) == 10


def test_instagram_follower_count_backfill_older_than_30_days_says_so(sandbox, fast_policy):
    _, result = load(
        sandbox,
        instagram,
        "follower_count",
        fast_policy,
        Window(AS_OF - dt.timedelta(days=90), AS_OF),
    )
    assert result.window.start == AS_OF - dt.timedelta(days=29)
    assert any("last 30 days only" in w for w in result.warnings)


def test_a_sync_back_dated_by_a_day_asks_only_for_the_30_days_instagram_still_has(
    sandbox, fast_policy
):
    # the platform's today is AS_OF + 1; as-of is a day earlier: 30 days back counts from the
    # platform's yesterday (AS_OF), not from as-of (Instagram answers older days with error #100)
    context = ctx(snapshot=None)
    context.as_of, context.today = AS_OF - dt.timedelta(days=1), AS_OF + dt.timedelta(days=1)
    _, result = load(
        sandbox,
        instagram,
        "follower_count",
        fast_policy,
        Window(AS_OF - dt.timedelta(days=40), AS_OF - dt.timedelta(days=1)),
        context=context,
    )
    assert result.window.start == AS_OF - dt.timedelta(days=29) and result.rows == 30 - 1


def test_instagram_followers_of_a_past_day_cannot_be_backfilled(sandbox, fast_policy):
    _, result = load(
        sandbox,
        instagram,
        "account",
        fast_policy,
        Window(AS_OF - dt.timedelta(days=5), AS_OF - dt.timedelta(days=1)),
    )
    assert result.rows == 0 and "only as of now" in result.warnings[0]


def test_instagram_spans_stay_under_30_days_across_a_dst_change(sandbox, fast_policy):
    start = AS_OF - dt.timedelta(
        days=29
    )  # Oct 17: the window crosses the end of summer time (Oct 25)
    c = client(sandbox, instagram, fast_policy)
    pages = list(
        instagram.fetch_follower_count(
            c, Window(start, AS_OF), StreamContext("Europe/Brussels", AS_OF, None)
        )
    )
    assert sum(len(p.records) for p in pages) == 30  # 30 days + 1 hour in one call would be refused


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
