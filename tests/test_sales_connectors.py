"""Stripe, Calendly and HubSpot: the behaviours docs/PLATFORMS.md lists for them."""

import dataclasses
import datetime as dt

import pytest

from connectors import registry
from connectors.calendly import connector as calendly
from connectors.http import RetryPolicy
from connectors.hubspot import connector as hubspot
from connectors.sandbox import Sandbox
from connectors.streams import WHOLE_HISTORY_START, StreamContext, Window
from connectors.stripe import connector as stripe
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF

CTX = lambda as_of=AS_OF: StreamContext("Europe/Brussels", as_of, None, person_salt="test-salt")  # noqa: E731


def client(sandbox, module, policy, **extra):
    c = module.connect({**sandbox.settings_for(module.PLATFORM), **extra})
    c.policy = policy
    return c


def test_stripe_pins_its_version_and_pages_newest_first(sandbox, fast_policy):
    c = client(sandbox, stripe, fast_policy)
    pages = list(
        c.list("charges", Window(dt.date(2026, 1, 1), dt.date(2026, 6, 30)), CTX(), "charges")
    )
    ids = [ch["id"] for page in pages for ch in page]
    assert len(pages) > 1 and len(ids) == len(set(ids))
    created = [ch["created"] for page in pages for ch in page]
    assert created == sorted(created, reverse=True)
    request = sandbox.stripe.server.requests[-1]
    assert (
        request.headers["stripe-version"] == stripe.STRIPE_VERSION
        and "starting_after" in request.query
    )
    expected = [
        p
        for p in sandbox.world.sales.payments
        if dt.date(2026, 1, 1) <= p.created_at.astimezone(CTX().tz).date() <= dt.date(2026, 6, 30)
    ]
    assert len(ids) == len(expected)


def test_stripe_refunds_land_on_their_own_date_even_for_months_old_charges(fast_policy):
    later = AS_OF + dt.timedelta(days=20)
    wh = Warehouse(":memory:", "t")
    spec = dataclasses.replace(stripe.STREAMS["balance_transactions"], first_load_all=False)
    with Sandbox(AS_OF) as early:
        load_stream(
            spec, client(early, stripe, fast_policy), spec.lookback_window(AS_OF), CTX(), wh
        )
    with Sandbox(later) as late:
        load_stream(
            spec, client(late, stripe, fast_policy), spec.lookback_window(later), CTX(later), wh
        )
        tz = CTX().tz
        refunds = {
            (p.charge_id, t.astimezone(tz).date(), -p.settled(a))
            for p in late.world.sales.payments
            for t, a in p.refunds
            if early.world.now <= t < late.world.now
        }
    landed = set(
        wh.query(
            "select charge_id, created_date, amount from raw.stripe__balance_transactions "
            "where type = 'refund' and created_date > ?",
            [AS_OF],
        )
    )
    assert refunds and refunds <= landed
    old = [
        c
        for c, day, _ in refunds
        if wh.query(
            "select count(*) from raw.stripe__balance_transactions "
            "where charge_id = ? and type = 'charge'",
            [c],
        )[0][0]
        == 0
    ]
    assert (
        old
    )  # a refund of a charge older than both loads' windows still arrives, with its charge id


def test_stripe_zero_decimal_currencies_are_not_divided_and_refunds_count_however_late():
    from kpi_pipeline.warehouse.loading import ensure_tables

    wh = Warehouse(":memory:", "b")
    ensure_tables(wh, list(stripe.STREAMS.values()))
    with wh.writer() as con:
        con.execute(
            "insert into raw.stripe__charges (business_id, charge_id, created_date, currency, "
            "minor_units, amount, amount_refunded, status, customer_id, _synced_at) values "
            f"('b', 'ch_1', date '2026-01-01', 'jpy', {stripe.minor_unit_factor('jpy')}, 5000, 0, "
            "'succeeded', 'c', now()), "
            f"('b', 'ch_2', date '2026-01-01', 'eur', {stripe.minor_unit_factor('EUR')}, 5000, "
            "1000, 'succeeded', 'c', now()), "
            "('b', 'ch_3', date '2026-01-01', 'eur', 100, 5000, 0, 'succeeded', null, now())"
        )
        # ch_3 was refunded in full in April: long after the charges' re-fetch window
        con.execute(
            "insert into raw.stripe__balance_transactions (business_id, transaction_id, "
            "created_date, type, currency, minor_units, amount, charge_id, source_amount, "
            "_synced_at) values ('b', 'txn_1', date '2026-04-20', 'refund', 'eur', 100, -5000, "
            "'ch_3', 5000, now())"
        )
    sql = (registry.platform("stripe").staging / "stg_stripe__charges.sql").read_text()
    rows = {
        r[0]: r[1:]
        for r in wh.query(
            sql.replace(
                "select * from final",
                "select charge_id, amount, amount_refunded, is_order, customer_key from final",
            )
        )
    }
    assert (
        float(rows["ch_1"][0]) == 5000
        and float(rows["ch_2"][0]) == 50
        and float(rows["ch_2"][1]) == 10
    )
    assert (
        rows["ch_1"][2] and rows["ch_2"][2] and not rows["ch_3"][2]
    )  # fully refunded: not an order
    assert rows["ch_3"][3] == "charge:ch_3"  # no customer, no e-mail: its own customer


def test_calendly_keeps_canceled_and_future_events(sandbox, fast_policy):
    wh = Warehouse(":memory:", "t")
    spec = calendly.STREAMS["scheduled_events"]
    result = load_stream(
        spec, client(sandbox, calendly, fast_policy), spec.lookback_window(AS_OF), CTX(), wh
    )
    statuses = dict(
        wh.query("select status, count(*) from raw.calendly__scheduled_events group by 1")
    )
    assert statuses.get("canceled", 0) > 0 and statuses["active"] > 0
    (future,) = wh.query(
        "select count(*) from raw.calendly__scheduled_events where start_date > ?", [AS_OF]
    )[0]
    assert future > 0 and result.window.end > AS_OF
    assert any(
        r.path == "/users/me" for r in sandbox.calendly.server.requests
    )  # scope found by itself


def test_calendly_429_waits_for_the_rate_limit_reset(sandbox):
    waits = []
    sandbox.calendly.server.inject(r"/scheduled_events", status=429, times=1)
    load_stream(
        calendly.STREAMS["scheduled_events"],
        client(sandbox, calendly, RetryPolicy(sleep=waits.append)),
        Window(AS_OF, AS_OF),
        CTX(),
        Warehouse(":memory:", "t"),
    )
    assert waits == [30.0]


def test_hubspot_slices_by_time_when_a_query_passes_the_search_cap(sandbox, fast_policy):
    sandbox.hubspot.search_cap = 60
    try:
        c = client(sandbox, hubspot, fast_policy)
        c.search_cap = 60
        wh = Warehouse(":memory:", "t")
        spec = dataclasses.replace(hubspot.STREAMS["contacts"], first_load_all=False)
        load_stream(spec, c, Window(dt.date(2026, 6, 1), dt.date(2026, 7, 31)), CTX(), wh)
    finally:
        sandbox.hubspot.search_cap = 10_000
    (count,) = wh.query("select count(*) from raw.hubspot__contacts")[0]
    # contacts are fetched by last modification (a few minutes either side: the index lags)
    start, end = CTX().local_start(dt.date(2026, 6, 1)), CTX().local_start(dt.date(2026, 8, 1))
    sales = sandbox.world.sales
    expected = sum(
        1
        for ct in sales.contacts
        if sales.seen(ct.created_at)
        and start - hubspot.INDEX_LAG
        <= max(sales.stage_dates(ct).values())
        < end + hubspot.INDEX_LAG
    )
    assert count == expected > 60


def test_hubspot_secondly_rate_limit_waits_a_second(sandbox):
    waits = []
    sandbox.hubspot.server.inject(r"/search", status=429, times=1)
    load_stream(
        hubspot.STREAMS["deals"],
        client(sandbox, hubspot, RetryPolicy(sleep=waits.append)),
        Window(AS_OF, AS_OF),
        CTX(),
        Warehouse(":memory:", "t"),
    )
    assert waits == [1.0]


def test_bad_tokens_name_their_settings(sandbox, fast_policy):
    from connectors.errors import AuthenticationError

    for module, setting, field in (
        (stripe, "sources.stripe.api_key", "api_key"),
        (calendly, "sources.calendly.token", "token"),
        (hubspot, "sources.hubspot.token", "token"),
    ):
        spec = next(iter(module.STREAMS.values()))
        with pytest.raises(AuthenticationError, match=setting.replace(".", r"\.")):
            load_stream(
                spec,
                client(sandbox, module, fast_policy, **{field: "wrong-secret-9"}),
                Window(AS_OF, AS_OF),
                CTX(),
                Warehouse(":memory:", "t"),
            )


def test_hubspot_an_old_contact_who_becomes_a_lead_replaces_its_earlier_self(sandbox, fast_policy):
    from connectors.sandbox.world import local_date, local_midnight

    sales = sandbox.world.sales
    contact = next(
        c
        for c in sales.contacts
        if c.lead_at
        and c.lead_at - c.created_at > dt.timedelta(days=60)
        and sales.seen(c.lead_at)
        and not sales.seen(c.customer_at)
    )
    lead_day = local_date(contact.lead_at)
    spec, wh, now = hubspot.STREAMS["contacts"], Warehouse(":memory:", "t"), sales.now

    def night(day):  # HubSpot as it was at the start of ``day``, synced for the day before
        sales.now = local_midnight(day)
        as_of = day - dt.timedelta(days=1)
        ctx = StreamContext("Europe/Brussels", as_of, None, person_salt="test-salt", today=day)
        load_stream(
            spec, client(sandbox, hubspot, fast_policy), spec.lookback_window(as_of), ctx, wh
        )
        return wh.query(
            "select lifecycle_stage, stage_dates, created_date from raw.hubspot__contacts "
            "where contact_id = ?",
            [contact.contact_id],
        )

    try:
        before = night(
            lead_day
        )  # the first load: the whole history, the contact still a subscriber
        after = night(
            lead_day + dt.timedelta(days=1)
        )  # a lookback by creation date would not reach it
    finally:
        sales.now = now
    created = local_date(contact.created_at)
    assert before == [("subscriber", f'{{"subscriber": "{created}"}}', created)]
    assert after == [("lead", f'{{"lead": "{lead_day}", "subscriber": "{created}"}}', created)]
    assert wh.query(
        "select modified_date from raw.hubspot__contacts where contact_id = ?", [contact.contact_id]
    ) == [(lead_day,)]
    requests = [r for r in sandbox.hubspot.server.requests if r.path.endswith("/contacts/search")]
    (last_filter, _), sort = (
        requests[-1].json()["filterGroups"][0]["filters"],
        requests[-1].json()["sorts"][0],
    )
    assert last_filter["propertyName"] == sort["propertyName"] == "lastmodifieddate"


def test_hubspot_rows_loaded_by_an_earlier_release_are_fetched_whole_once(sandbox, fast_policy):
    spec, wh = hubspot.STREAMS["deals"], Warehouse(":memory:", "t")
    today = AS_OF + dt.timedelta(days=1)
    ctx = lambda: StreamContext("Europe/Brussels", AS_OF, None, person_salt="s", today=today)  # noqa: E731
    load_stream(spec, client(sandbox, hubspot, fast_policy), spec.lookback_window(AS_OF), ctx(), wh)
    everything = wh.query("select count(*) from raw.hubspot__deals")[0][0]
    with (
        wh.writer() as con
    ):  # rows of a release that fetched by creation date: no modification date
        con.execute(
            "update raw.hubspot__deals set modified_date = null where "
            "close_date < date '2026-06-01'"
        )
        con.execute("delete from raw.hubspot__deals where close_date >= date '2026-06-01'")
    again = ctx()
    load_stream(spec, client(sandbox, hubspot, fast_policy), spec.lookback_window(AS_OF), again, wh)
    assert any("first load: fetching the whole history" in w for w in again.warnings)
    assert wh.query("select count(*), count(modified_date) from raw.hubspot__deals")[0] == (
        everything,
        everything,
    )
    assert wh.query("select min(window_start), max(window_end) from raw._loads")[0] == (
        WHOLE_HISTORY_START,
        AS_OF,
    )
    then = ctx()  # once: the next night takes the changes of its lookback
    load_stream(spec, client(sandbox, hubspot, fast_policy), spec.lookback_window(AS_OF), then, wh)
    assert (
        not then.warnings
        and wh.query("select count(*) from raw.hubspot__deals")[0][0] == everything
    )


def test_hubspot_a_record_that_moves_to_a_later_page_comes_once_and_one_without_id_is_kept():
    """A record modified while the pages are read comes again at the end: the first is kept. A
    record without its id is passed on (the loader refuses it, naming the stream)."""
    pages = [
        [{"id": "1"}, {"id": "2"}],
        [{"id": "2", "moved": True}, {"name": "no id"}, {"id": "3"}],
        [{}],
    ]

    class Search:
        def search(self, *args, **kwargs):
            yield from pages

    window = Window(AS_OF - dt.timedelta(days=3), AS_OF)
    got = [page.records for page in hubspot.STREAMS["deals"].fetch(Search(), window, CTX())]
    assert got == [[{"id": "1"}, {"id": "2"}], [{"name": "no id"}, {"id": "3"}], [{}]]
