"""Zero is a value: a period the sources covered without events counts 0, not "no data".

Raw rows are landed as a load would land them (with their raw._loads entry, which is what
says a source covered a day); the KPI models then run on an in-memory DuckDB.
"""

import datetime as dt

import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from tests.raw_loads import load, meeting, value

D = dt.date
AS_OF = D(2026, 3, 10)


@pytest.fixture
def settings():
    base = load_config("kpi.yaml")
    only = base.sources.model_copy(
        update={s: None for s in base.enabled_sources() if s not in ("calendly", "meta_ads")}
    )
    return base.model_copy(update={"history_start": D(2026, 2, 1), "sources": only, "demo": False})


def ad_day(day, impressions, clicks, spend):
    return {
        "date_start": day.isoformat(),
        "campaign_id": "1",
        "campaign_name": "Prospecting",
        "impressions": str(impressions),
        "reach": "1",
        "clicks": str(clicks),
        "inline_link_clicks": str(clicks),
        "spend": str(spend),
        "account_currency": "EUR",
    }


@pytest.fixture
def wh(settings):
    wh = Warehouse(":memory:", settings.business_id)
    # calls in the weeks of Feb 2 and Feb 16, none in the week of Feb 9; a canceled one that week
    load(
        wh,
        "calendly",
        "scheduled_events",
        [
            meeting(D(2026, 2, 3)),
            meeting(D(2026, 2, 5)),
            meeting(D(2026, 2, 11), status="canceled"),
            meeting(D(2026, 2, 17)),
            meeting(D(2026, 2, 18), name="Follow-up"),
        ],
        D(2026, 2, 1),
        AS_OF,
    )
    # ads ran only until Feb 20; the account was loaded (and so covered) through Mar 10
    load(
        wh,
        "meta_ads",
        "campaign_insights",
        [ad_day(D(2026, 2, 1) + dt.timedelta(days=i), 1000, 20, 10) for i in range(20)],
        D(2026, 2, 1),
        AS_OF,
    )
    run_models(wh, settings, AS_OF)
    return wh


def test_a_week_without_intro_calls_has_zero_calls(wh):
    assert value(wh, "intro_calls", "week", D(2026, 2, 2))[0] == 2
    assert value(wh, "intro_calls", "week", D(2026, 2, 9))[0] == 0  # covered, nothing happened: 0
    assert value(wh, "intro_calls", "day", D(2026, 2, 10))[0] == 0
    assert value(wh, "intro_calls", "month", D(2026, 2, 1))[0] == 3
    assert value(wh, "intro_calls", "week", D(2026, 3, 9))[0] == 0  # the open week up to as-of


def test_days_without_ad_spend_are_zero_and_their_ratios_have_nothing_to_divide_by(wh):
    assert value(wh, "ad_clicks", "week", D(2026, 2, 23))[0] == 0
    assert value(wh, "ad_spend", "week", D(2026, 2, 23))[0] == 0
    assert value(wh, "ad_cpc", "week", D(2026, 2, 23)) == (None, 0)  # undefined, but covered
    assert value(wh, "ad_cpc", "week", D(2026, 2, 16))[0] == pytest.approx(10 / 20)
    assert value(wh, "ad_clicks", "month", D(2026, 3, 1))[0] == 0


def test_days_no_load_reached_are_unknown_not_zero(wh, settings):
    # the week that starts before history_start holds only its covered days, marked partial
    assert wh.query(
        "select value, covered_from, is_partial from kpis.kpi_values where kpi_id = 'intro_calls' "
        "and grain = 'week' and period_start = ?",
        [D(2026, 1, 26)],
    ) == [(0.0, D(2026, 2, 1), True)]
    wh.rebuild("raw._loads", "select * from raw._loads where source <> 'calendly'")
    load(wh, "calendly", "scheduled_events", [meeting(D(2026, 2, 3))], D(2026, 2, 1), D(2026, 2, 5))
    run_models(wh, settings, AS_OF)
    assert value(wh, "intro_calls", "week", D(2026, 2, 9)) is None  # the source never covered it
    assert (
        value(wh, "intro_calls", "week", D(2026, 2, 2))[0] == 1
    )  # a partial week keeps what it has
