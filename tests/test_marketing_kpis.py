"""Instagram follows and ad campaigns from the sandbox through the SQL models, against the world.

Instagram leaves a side with no accounts out of the follow_type breakdown; Meta and Google Ads
name every past day after a campaign's current name. Truth comes from the world's own events.
"""

import datetime as dt

import pytest

from connectors.google_ads import connector as google_ads
from connectors.instagram import connector as instagram
from connectors.meta_ads import connector as meta_ads
from connectors.sandbox import Sandbox
from connectors.sandbox.world import local_midnight
from connectors.streams import Page, StreamContext, Window
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sources.windows import stream_context
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream, page_to_arrow
from tests.conftest import AS_OF

JULY, JULY_END = dt.date(2026, 7, 1), dt.date(2026, 7, 31)
HERFSTACTIE, PMAX = "120208000000000004", "987654322"


def load(sandbox, module, stream, window, wh, policy, as_of=AS_OF):
    client = module.connect(sandbox.settings_for(module.PLATFORM))
    client.policy = policy
    context = stream_context(load_config("kpi.yaml"), as_of)
    context.snapshot_date = as_of
    return load_stream(module.STREAMS[stream], client, window, context, wh)


def month_values(wh, start, dimension=None):
    rows = wh.query(
        "select kpi_id, dimension_value, value from kpis.kpi_values where grain = 'month' "
        "and period_start = ? and dimension is not distinct from ?",
        [start, dimension],
    )
    return {(k, v) if dimension else k: x for k, v, x in rows}


def instagram_warehouse(sandbox, policy):
    """Instagram loaded from June through as-of, as a daily run since June would have it."""
    settings = load_config("kpi.yaml").model_copy(update={"history_start": dt.date(2026, 6, 1)})
    wh = Warehouse(":memory:", settings.business_id)
    load(sandbox, instagram, "daily_totals", Window(dt.date(2026, 6, 1), AS_OF), wh, policy)
    load(
        sandbox,
        instagram,
        "follower_count",
        Window(AS_OF - dt.timedelta(days=29), AS_OF),
        wh,
        policy,
    )
    load(sandbox, instagram, "account", Window(AS_OF, AS_OF), wh, policy)
    return settings, wh


def test_a_month_with_days_without_unfollows_or_follows_matches_the_world(sandbox, fast_policy):
    world = sandbox.world.instagram
    july = [world.daily[JULY + dt.timedelta(days=i)] for i in range(31)]
    assert any(d["unfollows"] == 0 for d in july) and any(d["follows"] == 0 for d in july)
    settings, wh = instagram_warehouse(sandbox, fast_policy)
    run_models(wh, settings, AS_OF)
    values = month_values(wh, JULY)
    assert values["instagram_new_followers"] == world.new_followers(JULY, JULY_END)
    assert values["instagram_followers"] == world.followers(JULY_END)
    assert values["instagram_follower_growth_rate"] == pytest.approx(
        sandbox.world.truth_follower_growth_rate(JULY, JULY_END), rel=1e-12
    )
    assert month_values(wh, dt.date(2026, 6, 1))["instagram_followers"] == world.followers(
        dt.date(2026, 6, 30)
    )


def test_a_day_without_a_follows_breakdown_is_unknown_not_zero(sandbox, fast_policy):
    gap = dt.date(2026, 7, 10)
    sandbox.meta.server.inject(
        r"/insights",
        query={
            "metric": "follows_and_unfollows",
            "since": str(int(local_midnight(gap).timestamp())),
        },
        transform=lambda body, req: {"data": []},
    )  # docs/PLATFORMS.md#instagram
    settings, wh = instagram_warehouse(sandbox, fast_policy)
    assert wh.query(
        "select follows, unfollows from raw.instagram__daily_totals where day = ?", [gap]
    ) == [(None, None)]
    run_models(wh, settings, AS_OF)
    values = month_values(wh, JULY)
    assert (
        "instagram_new_followers" not in values and "instagram_follower_growth_rate" not in values
    )
    assert values["instagram_followers"] == sandbox.world.instagram.followers(
        JULY_END
    )  # rebuilt from after the gap
    assert "instagram_followers" not in month_values(
        wh, dt.date(2026, 6, 1)
    )  # would need the gap's net change
    august = month_values(wh, dt.date(2026, 8, 1))
    assert august["instagram_new_followers"] == sandbox.world.instagram.new_followers(
        dt.date(2026, 8, 1), dt.date(2026, 8, 31)
    )


def test_a_renamed_campaign_is_one_campaign_under_its_latest_name(sandbox, fast_policy):
    # early October a run loads Oct 1-10 under the old names; the runs after the renames (Meta
    # Oct 18, Google Oct 12) load the rest of the month under the new names
    settings = load_config("kpi.yaml").model_copy(update={"history_start": dt.date(2026, 10, 1)})
    wh = Warehouse(":memory:", settings.business_id)
    early = dt.date(2026, 10, 10)
    with Sandbox(early) as before:
        for module, stream in ((meta_ads, "campaign_insights"), (google_ads, "campaign_daily")):
            load(
                before,
                module,
                stream,
                Window(dt.date(2026, 10, 1), early),
                wh,
                fast_policy,
                as_of=early,
            )
    for module, stream in ((meta_ads, "campaign_insights"), (google_ads, "campaign_daily")):
        load(sandbox, module, stream, Window(early + dt.timedelta(days=1), AS_OF), wh, fast_policy)
    names = wh.query(
        "select distinct campaign_name from raw.meta_ads__campaign_insights where campaign_id = ? "
        "union all select distinct campaign_name from raw.google_ads__campaign_daily "
        "where campaign_id = ?",
        [HERFSTACTIE, PMAX],
    )
    assert sorted(n for (n,) in names) == [
        "Herfstactie",
        "Herfstactie \u2013 Retargeting",
        "PMax - All products",
        "PMax - Alle producten",
    ]
    run_models(wh, settings, AS_OF)
    clicks = {
        v: x
        for (k, v), x in month_values(wh, dt.date(2026, 10, 1), "campaign").items()
        if k == "ad_clicks"
    }
    oct1, oct31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    world = sandbox.world
    assert (
        clicks["meta / Herfstactie \u2013 Retargeting"]
        == world.truth_ads(oct1, oct31, "meta", campaign_id=HERFSTACTIE)["clicks"]
    )
    assert (
        clicks["google / PMax - Alle producten"]
        == world.truth_ads(oct1, oct31, "google", campaign_id=PMAX)["clicks"]
    )
    assert "meta / Herfstactie" not in clicks and "google / PMax - All products" not in clicks
    assert len(clicks) == 5  # Prospecting, Retargeting, Herfstactie; Search - Brand, PMax
    spend = month_values(wh, dt.date(2026, 10, 1), "campaign")[
        ("ad_spend", "meta / Herfstactie \u2013 Retargeting")
    ]
    assert spend == pytest.approx(
        world.truth_ads(oct1, oct31, "meta", campaign_id=HERFSTACTIE)["spend"]
    )


def test_campaigns_sharing_a_name_stay_apart_and_the_latest_sync_names_a_campaign():
    settings = load_config("kpi.yaml").model_copy(update={"history_start": dt.date(2026, 2, 1)})
    wh = Warehouse(":memory:", settings.business_id)
    spec = meta_ads.STREAMS["campaign_insights"]
    ctx = StreamContext("Europe/Brussels", AS_OF, AS_OF)

    def land(rows, day, synced_at):
        tbl = page_to_arrow(
            spec,
            Page(
                [
                    {
                        "date_start": day.isoformat(),
                        "campaign_id": cid,
                        "campaign_name": name,
                        "impressions": "100",
                        "reach": "50",
                        "clicks": str(clicks),
                        "inline_link_clicks": str(clicks),
                        "spend": "5.00",
                        "account_currency": "EUR",
                    }
                    for cid, name, clicks in rows
                ],
                "acct",
            ),
            ctx,
            wh.business_id,
            synced_at,
        )
        wh.replace_range(
            spec.table,
            [(c.name, c.type) for c in spec.columns],
            spec.key,
            spec.date_column,
            day,
            day,
            [tbl],
        )

    utc = dt.timezone.utc
    land(
        [("1", "Promo", 3), ("2", "Promo", 4), ("3", "Old name", 5)],
        dt.date(2026, 2, 2),
        dt.datetime(2026, 2, 3, tzinfo=utc),
    )
    land(
        [("3", "New name", 6)], dt.date(2026, 2, 3), dt.datetime(2026, 2, 4, tzinfo=utc)
    )  # renamed since
    run_models(wh, settings, dt.date(2026, 2, 28))
    clicks = {
        v: x
        for (k, v), x in month_values(wh, dt.date(2026, 2, 1), "campaign").items()
        if k == "ad_clicks"
    }
    assert clicks == {"meta / Promo (1)": 3, "meta / Promo (2)": 4, "meta / New name": 5 + 6}
