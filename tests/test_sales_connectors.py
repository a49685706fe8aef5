"""Stripe, Calendly and HubSpot: the behaviours apis.md §7 lists."""

import datetime as dt

import pytest

from connectors import calendly, hubspot, stripe
from connectors.http import RetryPolicy
from connectors.sandbox import Sandbox
from connectors.streams import StreamContext, Window
from kpi_pipeline.loading import load_stream
from kpi_pipeline.warehouse import Warehouse
from tests.conftest import AS_OF

CTX = lambda as_of=AS_OF: StreamContext("Europe/Brussels", as_of, None)  # noqa: E731


def client(sandbox, module, policy, **extra):
    c = module.connect({**sandbox.settings_for(module.PLATFORM), **extra})
    c.policy = policy
    return c


def test_stripe_pins_its_version_and_pages_newest_first(sandbox, fast_policy):
    c = client(sandbox, stripe, fast_policy)
    pages = list(c.list("charges", Window(dt.date(2026, 1, 1), dt.date(2026, 6, 30)), CTX(), "charges"))
    ids = [ch["id"] for page in pages for ch in page]
    assert len(pages) > 1 and len(ids) == len(set(ids))
    created = [ch["created"] for page in pages for ch in page]
    assert created == sorted(created, reverse=True)
    request = sandbox.stripe.server.requests[-1]
    assert request.headers["stripe-version"] == stripe.STRIPE_VERSION and "starting_after" in request.query
    expected = [p for p in sandbox.world.sales.payments
                if dt.date(2026, 1, 1) <= p.created_at.astimezone(CTX().tz).date() <= dt.date(2026, 6, 30)]
    assert len(ids) == len(expected)


def test_stripe_refunds_arrive_later_and_the_lookback_picks_them_up(fast_policy):
    later = AS_OF + dt.timedelta(days=20)
    wh = Warehouse(":memory:", "t")
    spec = stripe.STREAMS["charges"]
    with Sandbox(AS_OF) as early:
        load_stream(spec, client(early, stripe, fast_policy), spec.lookback_window(AS_OF), CTX(), wh)
        before = dict(wh.query("select charge_id, amount_refunded from raw.stripe__charges"))
    with Sandbox(later) as late:
        load_stream(spec, client(late, stripe, fast_policy), spec.lookback_window(later), CTX(later), wh)
        after = dict(wh.query("select charge_id, amount_refunded from raw.stripe__charges"))
        window = spec.lookback_window(later)
        refunded_late = [p.charge_id for p in late.world.sales.payments
                         if p.charge_id in before and before[p.charge_id] == 0
                         and window.start <= p.created_at.astimezone(CTX().tz).date()
                         and any(early.world.now <= t < late.world.now for t, _ in p.refunds)]
    assert refunded_late and all(after[c] > 0 for c in refunded_late)


def test_stripe_zero_decimal_currencies_are_not_divided(tmp_path):
    import duckdb

    from kpi_pipeline.models import SQL_DIR

    con = duckdb.connect()
    con.execute("create schema raw; create table raw.stripe__charges as select * from (values "
                f"('b', 'ch_1', date '2026-01-01', 'jpy', {stripe.minor_unit_factor('jpy')}, 5000::bigint, 0::bigint, "
                "'succeeded', 'c', 'in'),"
                f"('b', 'ch_2', date '2026-01-01', 'eur', {stripe.minor_unit_factor('EUR')}, 5000::bigint, 1000::bigint, "
                "'succeeded', 'c', 'in')) t(business_id, charge_id, created_date, currency, minor_units, amount, "
                "amount_refunded, status, customer_id, invoice_id)")
    rows = dict((r[0], r[1:]) for r in con.execute(
        (SQL_DIR / "staging" / "stg_stripe__charges.sql").read_text().replace("select * from final",
                                                                            "select charge_id, amount, amount_refunded from final")).fetchall())
    assert float(rows["ch_1"][0]) == 5000 and float(rows["ch_2"][0]) == 50 and float(rows["ch_2"][1]) == 10


def test_calendly_keeps_canceled_and_future_events(sandbox, fast_policy):
    wh = Warehouse(":memory:", "t")
    spec = calendly.STREAMS["scheduled_events"]
    result = load_stream(spec, client(sandbox, calendly, fast_policy), spec.lookback_window(AS_OF), CTX(), wh)
    statuses = dict(wh.query("select status, count(*) from raw.calendly__scheduled_events group by 1"))
    assert statuses.get("canceled", 0) > 0 and statuses["active"] > 0
    (future,) = wh.query("select count(*) from raw.calendly__scheduled_events where start_date > ?", [AS_OF])[0]
    assert future > 0 and result.window.end > AS_OF
    assert any(r.path == "/users/me" for r in sandbox.calendly.server.requests)  # scope found by itself


def test_calendly_429_waits_for_the_rate_limit_reset(sandbox):
    waits = []
    sandbox.calendly.server.inject(r"/scheduled_events", status=429, times=1)
    load_stream(calendly.STREAMS["scheduled_events"], client(sandbox, calendly, RetryPolicy(sleep=waits.append)),
                Window(AS_OF, AS_OF), CTX(), Warehouse(":memory:", "t"))
    assert waits == [30.0]


def test_hubspot_slices_by_time_when_a_query_passes_the_search_cap(sandbox, fast_policy):
    sandbox.hubspot.search_cap = 60
    try:
        c = client(sandbox, hubspot, fast_policy)
        c.search_cap = 60
        wh = Warehouse(":memory:", "t")
        load_stream(hubspot.STREAMS["contacts"], c, Window(dt.date(2026, 6, 1), dt.date(2026, 7, 31)), CTX(), wh)
    finally:
        sandbox.hubspot.search_cap = 10_000
    (count,) = wh.query("select count(*) from raw.hubspot__contacts")[0]
    tz = CTX().tz
    expected = sum(1 for ct in sandbox.world.sales.contacts
                   if dt.date(2026, 6, 1) <= ct.created_at.astimezone(tz).date() <= dt.date(2026, 7, 31))
    assert count == expected > 60


def test_hubspot_secondly_rate_limit_waits_a_second(sandbox):
    waits = []
    sandbox.hubspot.server.inject(r"/search", status=429, times=1)
    load_stream(hubspot.STREAMS["deals"], client(sandbox, hubspot, RetryPolicy(sleep=waits.append)),
                Window(AS_OF, AS_OF), CTX(), Warehouse(":memory:", "t"))
    assert waits == [1.0]


def test_bad_tokens_name_their_settings(sandbox, fast_policy):
    from connectors.errors import AuthenticationError

    for module, setting, field in ((stripe, "sources.stripe.api_key", "api_key"),
                                   (calendly, "sources.calendly.token", "token"),
                                   (hubspot, "sources.hubspot.token", "token")):
        spec = next(iter(module.STREAMS.values()))
        with pytest.raises(AuthenticationError, match=setting.replace(".", r"\.")):
            load_stream(spec, client(sandbox, module, fast_policy, **{field: "wrong-secret-9"}), Window(AS_OF, AS_OF),
                        CTX(), Warehouse(":memory:", "t"))
