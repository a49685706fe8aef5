"""Meta Ads and Instagram, both on Meta's Graph API: the quirks docs/PLATFORMS.md lists for them."""

import datetime as dt
import json

import pytest

from connectors.errors import AuthenticationError, RateLimitedError
from connectors.instagram import connector as instagram
from connectors.meta_ads import connector as meta_ads
from connectors.streams import StreamContext, Window
from tests.conftest import AS_OF
from tests.connector_runs import client, ctx, load

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
