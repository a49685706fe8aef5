"""KPI models as data: given raw rows, the expected KPI values (in-memory DuckDB)."""

import datetime as dt

import pytest

from connectors.mailchimp.connector import STREAMS
from connectors.streams import Page, StreamContext
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import page_to_arrow

AS_OF = dt.date(2026, 3, 10)
D = dt.date


@pytest.fixture
def settings():
    return load_config("kpi.yaml").model_copy(update={"history_start": D(2026, 1, 1)})


def land(wh, stream, records, account="L1", as_of=AS_OF):
    spec = STREAMS[stream]
    ctx = StreamContext("Europe/Brussels", as_of, as_of)
    tbl = page_to_arrow(
        spec,
        Page(records, account),
        ctx,
        wh.business_id,
        dt.datetime(2026, 3, 11, tzinfo=dt.timezone.utc),
    )
    keys = tbl.column(spec.date_column).to_pylist()
    wh.replace_range(
        spec.table,
        [(c.name, c.type) for c in spec.columns],
        spec.key,
        spec.date_column,
        min(keys),
        max(keys),
        [tbl],
    )


def activity(day, subs=0, unsubs=0, other_adds=0, other_removes=0):
    return {
        "day": day.isoformat(),
        "emails_sent": 0,
        "unique_opens": 0,
        "recipient_clicks": 0,
        "hard_bounce": 0,
        "soft_bounce": 0,
        "subs": subs,
        "unsubs": unsubs,
        "other_adds": other_adds,
        "other_removes": other_removes,
    }


def report(cid, send_time, sent, opens, clicks, hard=0, soft=0):
    return {
        "id": cid,
        "send_time": send_time,
        "list_id": "L1",
        "campaign_title": cid,
        "emails_sent": sent,
        "bounces": {"hard_bounces": hard, "soft_bounces": soft},
        "opens": {"unique_opens": opens},
        "clicks": {"unique_subscriber_clicks": clicks},
        "unsubscribed": 0,
    }


def value(wh, kpi, grain, start):
    rows = wh.query(
        "select value from kpis.kpi_values where kpi_id = ? and grain = ? and period_start = ? "
        "and dimension is null",
        [kpi, grain, start],
    )
    return rows[0][0] if rows else None


@pytest.fixture
def wh(settings):
    wh = Warehouse(":memory:", settings.business_id)
    days = [D(2026, 2, 1) + dt.timedelta(days=i) for i in range(38)]  # Feb 1 .. Mar 10
    land(
        wh,
        "list_activity",
        [activity(d, subs=2, unsubs=1, other_removes=1 if d.day == 15 else 0) for d in days],
    )
    land(
        wh,
        "growth_history",
        [
            {
                "month": "2026-01",
                "list_id": "L1",
                "subscribed": 1000,
                "unsubscribed": 0,
                "cleaned": 0,
                "pending": 0,
                "deleted": 0,
            },
            {
                "month": "2026-02",
                "list_id": "L1",
                "subscribed": 1027,
                "unsubscribed": 28,
                "cleaned": 1,
                "pending": 0,
                "deleted": 0,
            },
            {
                "month": "2026-03",
                "list_id": "L1",
                "subscribed": 1009,
                "unsubscribed": 10,
                "cleaned": 1,
                "pending": 0,
                "deleted": 0,
            },
        ],
    )
    # two campaigns in one week: a big one with a low rate and a small one with a high rate
    land(
        wh,
        "campaign_reports",
        [
            report("c1", "2026-02-03T09:00:00+00:00", 1000, 200, 20),
            report("c2", "2026-02-05T09:00:00+00:00", 100, 90, 45, hard=5, soft=5),
            # 23:30 UTC on Feb 28 is 00:30 on Mar 1 in Brussels: it counts in March
            report("c3", "2026-02-28T23:30:00+00:00", 500, 100, 10),
        ],
    )
    run_models(wh, settings, AS_OF)
    return wh


def test_ratio_is_a_sum_over_sums_not_an_average_of_daily_ratios(wh):
    week = value(wh, "email_open_rate", "week", D(2026, 2, 2))
    assert week == pytest.approx((200 + 90) / (1000 + 90))  # not (0.2 + 1.0) / 2
    assert value(wh, "email_click_to_open_rate", "week", D(2026, 2, 2)) == pytest.approx(65 / 290)


def test_campaigns_count_on_their_business_local_send_date(wh):
    assert value(wh, "email_open_rate", "month", D(2026, 2, 1)) == pytest.approx(290 / 1090)
    assert value(wh, "email_open_rate", "month", D(2026, 3, 1)) == pytest.approx(100 / 500)


def test_sum_kpis_and_net_growth(wh):
    assert value(wh, "newsletter_new_subscribers", "month", D(2026, 2, 1)) == 56
    assert value(wh, "newsletter_unsubscribes", "month", D(2026, 2, 1)) == 28
    assert value(wh, "newsletter_net_growth", "month", D(2026, 2, 1)) == 56 - 28 - 1
    assert (
        value(wh, "newsletter_new_subscribers", "month", D(2026, 3, 1)) == 20
    )  # open month to as-of


def test_subscriber_level_rebuilt_from_month_end_stock_plus_daily_net_change(wh):
    assert (
        value(wh, "newsletter_subscribers", "month", D(2026, 1, 1)) == 1000
    )  # growth-history stock
    assert (
        value(wh, "newsletter_subscribers", "week", D(2026, 2, 2)) == 1000 + 8 * 1
    )  # Feb 8: 8 days of +1
    assert value(wh, "newsletter_subscribers", "month", D(2026, 2, 1)) == 1027


def test_churn_divides_by_the_level_at_the_start_of_the_period(wh):
    assert value(wh, "newsletter_churn_rate", "month", D(2026, 2, 1)) == pytest.approx(
        (28 + 1) / 1000
    )


def test_a_dense_kpi_with_a_missing_day_has_no_value_rather_than_a_partial_one(wh, settings):
    wh.rebuild(
        "raw.mailchimp__list_activity",
        "select * from raw.mailchimp__list_activity where day <> date '2026-02-10'",
    )
    run_models(wh, settings, AS_OF)
    assert value(wh, "newsletter_new_subscribers", "month", D(2026, 2, 1)) is None
    assert value(wh, "newsletter_new_subscribers", "week", D(2026, 2, 16)) == 14
    assert (
        value(wh, "newsletter_subscribers", "week", D(2026, 2, 9)) is None
    )  # rebuilt level needs every day


def test_cold_share_counts_subscribed_members_without_an_open_in_90_days(wh, settings):
    members = [
        {"id": f"m{i}", "status": "subscribed", "timestamp_opt": "", "last_changed": ""}
        for i in range(4)
    ]
    land(wh, "members", members)
    land(
        wh,
        "campaign_opens",
        [
            {
                "email_id": "m0",
                "campaign_id": "c1",
                "opens_count": 1,
                "_send_time": "2026-02-03T09:00:00+00:00",
                "opens": [{"timestamp": "2026-02-03T10:00:00+00:00"}],
            },
            {
                "email_id": "m1",
                "campaign_id": "c9",
                "opens_count": 1,
                "_send_time": "2025-10-01T09:00:00+00:00",
                "opens": [{"timestamp": "2025-10-01T10:00:00+00:00"}],
            },  # more than 90 days before Mar 10
        ],
    )
    run_models(wh, settings, AS_OF)
    assert value(wh, "newsletter_cold_subscriber_share", "month", D(2026, 3, 1)) == pytest.approx(
        3 / 4
    )
