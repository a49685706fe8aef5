"""Amounts in another currency than the business's: converted with kpi.yaml's rates, or refused.

Every ad network and the Stripe balance say which currency their amounts are in; a load whose
currency the business neither keeps nor has a rate for fails naming the source and the currency,
and loads nothing. Staging converts with the rate, so amounts are never added up silently.
"""

import datetime as dt

import pytest

from connectors.errors import ConfigurationError
from connectors.google_ads import connector as google_ads
from connectors.meta_ads import connector as meta_ads
from connectors.streams import StreamContext, Window
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF

WINDOW = Window(dt.date(2026, 10, 1), dt.date(2026, 10, 31))


def ctx(*currencies):
    return StreamContext(
        "Europe/Brussels",
        AS_OF,
        None,
        person_salt="s",
        currency="EUR",
        currencies=frozenset({"EUR", *currencies}),
    )


@pytest.mark.parametrize(
    "module, emulator, stream",
    [(meta_ads, "meta", "campaign_insights"), (google_ads, "google_ads", "campaign_daily")],
)
def test_an_ad_account_in_dollars_is_refused_without_a_rate_and_loads_nothing(
    sandbox, fast_policy, module, emulator, stream
):
    client = module.connect(sandbox.settings_for(module.PLATFORM))
    client.policy = fast_policy
    wh = Warehouse(":memory:", "studio_lumen")
    spec = module.STREAMS[stream]
    load_stream(spec, client, WINDOW, ctx(), wh)  # euros: loads
    before = wh.query(f"select count(*), sum(hash(_record)) from raw.{spec.table}")
    getattr(sandbox, emulator).currency = "USD"
    try:
        with pytest.raises(
            ConfigurationError, match=rf"{module.PLATFORM}/{stream}: amounts in USD.*fx: \{{USD:"
        ):
            load_stream(spec, client, WINDOW, ctx(), wh)
        assert wh.query(f"select count(*), sum(hash(_record)) from raw.{spec.table}") == before
        load_stream(spec, client, WINDOW, ctx("USD"), wh)
    finally:
        getattr(sandbox, emulator).currency = "EUR"
    assert {c for (c,) in wh.query(f"select distinct account_currency from raw.{spec.table}")} == {
        "USD"
    }


def test_staging_converts_ad_spend_with_the_rate(sandbox, fast_policy):
    settings = load_config("kpi.yaml").model_copy(
        update={"fx": {"USD": 0.9}, "history_start": WINDOW.start}
    )
    client = google_ads.connect(sandbox.settings_for("google_ads"))
    client.policy = fast_policy
    wh = Warehouse(":memory:", settings.business_id)
    sandbox.google_ads.currency = "USD"
    try:
        load_stream(google_ads.STREAMS["campaign_daily"], client, WINDOW, ctx("USD"), wh)
    finally:
        sandbox.google_ads.currency = "EUR"
    run_models(wh, settings, AS_OF)
    (spend,) = wh.query("select sum(amount_spend) from staging.stg_google_ads__campaign_days")[0]
    truth = sandbox.world.truth_ads(WINDOW.start, WINDOW.end, "google")["spend"]
    assert float(spend) == pytest.approx(truth * 0.9)
