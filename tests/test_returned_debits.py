"""Money that was never settled: returned bank debits, disputes, and customers who are people.

Stripe's four streams are loaded from the sandbox through the real connector into an in-memory
warehouse and the shipped models run on it (no Dagster). Truth comes from the sandbox world's own
events (world.truth_sales and the payments themselves), never from the pipeline's code.
"""

import datetime as dt

import pytest

from connectors.sandbox.world import local_date
from connectors.streams import StreamContext, Window
from connectors.stripe import connector as stripe
from kpi_pipeline.config.settings import load_config
from kpi_pipeline.sql.build import run_models
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF, subset_config
from tests.truth import periods

HISTORY_START = dt.date(2026, 1, 1)
MONTHS = list(periods("month", HISTORY_START, AS_OF))


@pytest.fixture(scope="module")
def wh(sandbox, tmp_path_factory):
    settings = load_config(
        subset_config(tmp_path_factory.mktemp("money"), sandbox, ["stripe"], HISTORY_START)
    )
    client = stripe.connect(sandbox.settings_for(stripe.PLATFORM))
    ctx = StreamContext("Europe/Brussels", AS_OF, AS_OF, person_salt="test-salt")
    wh = Warehouse(":memory:", settings.business_id)
    for spec in stripe.STREAMS.values():
        load_stream(spec, client, Window(HISTORY_START, AS_OF), ctx, wh)
    run_models(wh, settings, AS_OF)
    return wh


def month_value(wh, kpi, start):
    rows = wh.query(
        "select value from kpis.kpi_values where kpi_id = ? and grain = 'month' and period_start = "
        "? and dimension is null",
        [kpi, start],
    )
    return rows[0][0] if rows else None


def truth(world, start, end):
    return world.truth_sales(start, min(end, AS_OF))


def test_a_returned_debit_leaves_revenue_unchanged(wh, sandbox):
    world = sandbox.world
    s = world.sales
    # debits the bank returned within the month they were paid in: they must add nothing to it
    returned = [
        p
        for p in s.charged()
        if s.seen(p.returned_at)
        and HISTORY_START <= local_date(p.created_at)
        and local_date(p.created_at).replace(day=1) == local_date(p.returned_at).replace(day=1)
    ]
    assert {p.method for p in returned} == {"sepa_debit", "bancontact"}
    for start, end in MONTHS:
        expected = truth(world, start, end)["revenue"]
        assert month_value(wh, "revenue", start) == pytest.approx(expected), start
    for p in returned:
        rows = wh.query(
            "select type, reporting_category, amount, is_sale "
            "from staging.stg_stripe__balance_transactions where "
            "charge_id = ? order by amount desc",
            [p.charge_id],
        )
        euros = p.settled(p.amount) / 100
        assert [(t, c, float(a), sale) for t, c, a, sale in rows] == [
            ("payment", "charge", euros, True),
            ("payment_failure_refund", "charge_failure", -euros, True),
        ]
    # the months above held returns: without taking them back each would be off by their amount
    taken_back = {
        start: sum(
            p.settled(p.amount) for p in returned if start <= local_date(p.returned_at) <= end
        )
        for start, end in MONTHS
    }
    assert sum(1 for cents in taken_back.values() if cents) >= 3


def test_a_returned_debit_is_no_order_and_no_new_customer(wh, sandbox):
    world = sandbox.world
    s = world.sales
    returned = [
        p.charge_id
        for p in s.charged()
        if s.seen(p.returned_at) and local_date(p.created_at) >= HISTORY_START
    ]
    for start, end in MONTHS:
        expected = truth(world, start, end)
        assert month_value(wh, "orders", start) == expected["orders"], start
        assert month_value(wh, "new_customers", start) == expected["new_customers"], start
        assert month_value(wh, "average_order_value", start) == pytest.approx(
            expected["average_order_value"]
        )
    flags = dict(
        wh.query(
            "select charge_id, is_order from staging.stg_stripe__charges where is_returned "
            "and payment_date >= ?",
            [HISTORY_START],
        )
    )
    assert set(flags) == set(returned) and not any(flags.values())


def test_a_dispute_takes_the_sale_back_and_a_won_one_gives_it_back(wh, sandbox):
    world = sandbox.world
    s = world.sales
    disputed = [
        p
        for p in s.charged()
        if s.seen(p.disputed_at) and local_date(p.disputed_at) >= HISTORY_START
    ]
    assert any(p.dispute_won_at for p in disputed) and any(not p.dispute_won_at for p in disputed)
    for p in disputed:
        start = local_date(p.disputed_at).replace(day=1)
        end = next(b for a, b in MONTHS if a == start)
        assert month_value(wh, "revenue", start) == pytest.approx(
            truth(world, start, end)["revenue"]
        )
        rows = wh.query(
            "select type, reporting_category, amount from staging.stg_stripe__balance_transactions "
            "where charge_id = ? and is_sale and type = 'adjustment' order by day",
            [p.charge_id],
        )
        euros = p.settled(p.amount) / 100
        expected = [("adjustment", "dispute", -euros)] + (
            [("adjustment", "dispute_reversal", euros)] if s.seen(p.dispute_won_at) else []
        )
        assert [(t, c, float(a)) for t, c, a in rows] == expected


def test_a_guest_who_later_opens_an_account_is_one_new_customer(wh, sandbox):
    world = sandbox.world
    s = world.sales
    norm = lambda email: email.strip().lower()  # noqa: E731
    guests = {norm(p.email): p for p in s.succeeded() if p.customer_id is None}
    later = [
        p
        for p in s.succeeded()
        if p.customer_id
        and norm(p.email) in guests
        and guests[norm(p.email)].created_at < p.created_at
        and local_date(p.created_at) >= HISTORY_START
    ]
    assert later
    for start, end in MONTHS:
        expected = truth(world, start, end)
        assert month_value(wh, "new_customers", start) == expected["new_customers"], start
        assert month_value(wh, "repeat_customer_rate", start) == pytest.approx(
            expected["repeat_customer_rate"]
        )
        assert month_value(wh, "orders_per_customer", start) == pytest.approx(
            expected["orders_per_customer"]
        )
    for p in later:
        keys = {
            k
            for (k,) in wh.query(
                "select distinct customer_key from staging.stg_stripe__charges "
                "where charge_id in (?, ?)",
                [p.charge_id, guests[norm(p.email)].charge_id],
            )
        }
        assert len(keys) == 1, p.charge_id  # one person, however they paid


def test_failed_refunds_reversals_and_rows_loaded_before_reporting_category_was_kept():
    """Models as data: what Stripe may send that the sandbox's world does not (a refund that
    failed, an ACH payment_reversal), and rows stored before reporting_category was kept."""
    from kpi_pipeline.warehouse.loading import ensure_tables

    settings = load_config("kpi.yaml")
    wh = Warehouse(":memory:", settings.business_id)
    ensure_tables(wh, list(stripe.STREAMS.values()))
    day = dt.date(2026, 10, 5)
    with wh.writer() as con:
        con.execute(
            "insert into raw.stripe__charges (business_id, charge_id, created_date, currency, "
            "minor_units, amount, amount_refunded, status, customer_id, _synced_at) values "
            "(?, 'ch_r', ?, 'eur', 100, 10000, 0, 'succeeded', 'cus_1', now()), "
            "(?, 'ch_a', ?, 'usd', 100, 5000, 0, 'succeeded', 'cus_2', now())",
            [wh.business_id, day] * 2,
        )
        # (id, days after, type, reporting_category, source_object, amount, charge, source_amount)
        rows = [
            ("t1", 0, "charge", "charge", "charge", 10000, "ch_r", 10000),
            ("t2", 2, "refund", "refund", "refund", -10000, "ch_r", 10000),
            (
                "t3",
                4,
                "refund_failure",
                None,
                "refund",
                10000,
                "ch_r",
                10000,
            ),  # the refund bounced: kept
            ("t4", 0, "payment", None, "charge", 4600, "ch_a", 5000),
            (
                "t5",
                3,
                "payment_reversal",
                None,
                "charge",
                -4600,
                "ch_a",
                5000,
            ),  # the ACH debit came back
            ("t6", 6, "adjustment", None, "dispute", -10000, "ch_r", 10000),
            ("t7", 9, "adjustment", None, "dispute", 10000, "ch_r", 10000),
            ("t8", 9, "adjustment", "fee", "fee_refund", -1500, None, None),  # not a sale's money
        ]
        for txn, later, kind, category, source, amount, charge, source_amount in rows:
            con.execute(
                "insert into raw.stripe__balance_transactions (business_id, transaction_id, "
                "created_date, type, reporting_category, source_object, currency, minor_units, "
                "amount, charge_id, source_amount, _synced_at) values (?, ?, ?, ?, ?, ?, 'eur', "
                "100, ?, ?, ?, now())",
                [
                    wh.business_id,
                    txn,
                    day + dt.timedelta(days=later),
                    kind,
                    category,
                    source,
                    amount,
                    charge,
                    source_amount,
                ],
            )
    run_models(wh, settings, dt.date(2026, 10, 31))
    revenue = dict(
        wh.query(
            "select day, numerator from kpis.kpi_daily where kpi_id = 'revenue' and numerator <> 0"
        )
    )
    assert {d: float(v) for d, v in revenue.items()} == {
        day: 146.0,
        day + dt.timedelta(days=2): -100.0,
        day + dt.timedelta(days=3): -46.0,
        day + dt.timedelta(days=4): 100.0,
        day + dt.timedelta(days=6): -100.0,
        day + dt.timedelta(days=9): 100.0,
    }
    categories = dict(
        wh.query(
            "select transaction_id, reporting_category "
            "from staging.stg_stripe__balance_transactions where is_sale"
        )
    )
    assert categories == {
        "t1": "charge",
        "t2": "refund",
        "t3": "refund_failure",
        "t4": "charge",
        "t5": "charge_failure",
        "t6": "dispute",
        "t7": "dispute_reversal",
    }
    charges = {
        r[0]: r[1:]
        for r in wh.query(
            "select charge_id, is_order, is_returned, amount_refunded "
            "from staging.stg_stripe__charges"
        )
    }
    assert charges == {"ch_r": (True, False, 0), "ch_a": (False, True, 0)}
