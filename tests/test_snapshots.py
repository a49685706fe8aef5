"""Snapshot rows from KPI values: final rows kept, coverage turning KPIs to no data, projections
from history, older releases' tables (README.md#what-the-numbers-mean)."""

import datetime as dt

import pandas as pd
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.kpi.coverage import Coverage
from kpi_pipeline.kpi.scorecard import build_snapshots


@pytest.fixture
def settings():
    return load_config("kpi.yaml")


def values(rows):
    return pd.DataFrame(
        [
            dict(
                business_id="studio_lumen",
                kpi_id=k,
                grain=g,
                window_kind=w,
                period_start=s,
                dimension=None,
                value=v,
            )
            for k, g, w, s, v in rows
        ]
    )


def test_previous_final_rows_never_change_even_when_targets_do(settings):
    as_of = dt.date(2026, 11, 15)
    rows = values(
        [
            ("newsletter_new_subscribers", "month", "period", dt.date(2026, 6, 1), 120.0),
            ("newsletter_new_subscribers", "month", "period", dt.date(2026, 11, 1), 70.0),
            ("newsletter_new_subscribers", "month", "previous", dt.date(2026, 11, 1), 50.0),
        ]
    )
    coverage = Coverage.complete(settings, {"mailchimp": as_of})
    first = build_snapshots(settings, as_of, rows, coverage)
    june = first[
        (first.kpi_id == "newsletter_new_subscribers")
        & (first.grain == "month")
        & (first.period_start == dt.date(2026, 6, 1))
    ].iloc[0]
    assert june.is_closed and june.is_final and june.status == "achieved" and june.target == 115
    nov = first[
        (first.kpi_id == "newsletter_new_subscribers")
        & (first.grain == "month")
        & (first.period_start == dt.date(2026, 11, 1))
    ].iloc[0]
    assert (
        not nov.is_closed and nov.previous_actual == 50.0 and nov.change_pct == pytest.approx(0.4)
    )
    assert nov.projected == pytest.approx(70.0 / (15 / 30)) and nov.status == "on_track"

    edited = settings.model_copy(
        update={"targets": {**settings.targets, "newsletter_new_subscribers": {"month": 500}}}
    )
    finals = first[first.is_final]
    second = build_snapshots(edited, as_of + dt.timedelta(days=1), rows, coverage, finals)
    june2 = second[
        (second.kpi_id == "newsletter_new_subscribers")
        & (second.grain == "month")
        & (second.period_start == dt.date(2026, 6, 1))
    ].iloc[0]
    assert june2.target == 115 and june2.status == "achieved" and june2.as_of == as_of


def test_closed_but_not_final_inside_the_lookback(settings):
    as_of = dt.date(2026, 11, 15)
    snap = build_snapshots(
        settings, as_of, values([]), Coverage.complete(settings, {"mailchimp": as_of})
    )
    october = snap[(snap.grain == "month") & (snap.period_start == dt.date(2026, 10, 1))].iloc[0]
    assert october.is_closed and not october.is_final  # Mailchimp restates for up to 90 days


def test_a_stale_source_turns_its_kpis_to_no_data(settings):
    as_of = dt.date(2026, 11, 15)
    rows = values(
        [
            ("newsletter_new_subscribers", "month", "period", dt.date(2026, 11, 1), 999.0),
            ("newsletter_new_subscribers", "month", "period", dt.date(2026, 10, 1), 130.0),
        ]
    )
    snap = build_snapshots(
        settings,
        as_of,
        rows,
        Coverage.complete(settings, {"mailchimp": as_of - dt.timedelta(days=2)}),
    )
    nov = snap[
        (snap.kpi_id == "newsletter_new_subscribers")
        & (snap.grain == "month")
        & (snap.period_start == dt.date(2026, 11, 1))
    ].iloc[0]
    assert nov.status == "no_data"
    older = snap[
        (snap.kpi_id == "newsletter_new_subscribers")
        & (snap.grain == "month")
        & (snap.period_start == dt.date(2026, 10, 1))
    ].iloc[0]
    assert older.status == "achieved"  # a period the source fully covered keeps its status


def _one(snap, kpi, grain, start):
    return snap[(snap.kpi_id == kpi) & (snap.grain == grain) & (snap.period_start == start)].iloc[0]


def test_a_covered_ratio_with_nothing_to_divide_by_is_no_data_with_its_reason(settings):
    as_of = dt.date(2026, 11, 15)
    rows = values([("email_open_rate", "month", "period", dt.date(2026, 11, 1), None)])
    snap = build_snapshots(settings, as_of, rows, Coverage.complete(settings, {"mailchimp": as_of}))
    nov = _one(snap, "email_open_rate", "month", dt.date(2026, 11, 1))
    assert nov.status == "no_data" and nov.status_reason == "nothing to divide by"
    october = _one(snap, "email_open_rate", "month", dt.date(2026, 10, 1))
    assert october.status == "no_data" and october.status_reason.startswith("no value")


def test_a_month_with_a_source_outage_is_never_final_until_backfilled(settings):
    as_of = dt.date(2026, 11, 15)
    june = dt.date(2026, 6, 1)
    rows = values([("newsletter_new_subscribers", "month", "period", june, 120.0)])
    gap = Coverage.complete(settings, {"mailchimp": as_of})
    # list activity (what new subscribers read) was down two days
    gap.stream_days[("mailchimp", "list_activity")] -= {dt.date(2026, 6, 10), dt.date(2026, 6, 11)}
    first = build_snapshots(settings, as_of, rows, gap)
    row = _one(first, "newsletter_new_subscribers", "month", june)
    assert row.status == "no_data" and not row.is_final and "mailchimp" in row.status_reason
    assert _one(first, "newsletter_new_subscribers", "month", dt.date(2026, 7, 1)).is_final
    # the frozen rows of the first run do not stop the backfilled month from being scored
    backfilled = build_snapshots(
        settings,
        as_of,
        rows,
        Coverage.complete(settings, {"mailchimp": as_of}),
        first[first.is_final],
    )
    row = _one(backfilled, "newsletter_new_subscribers", "month", june)
    assert row.status == "achieved" and row.is_final
    # and a row frozen as no_data by an older release is recomputed too
    frozen = first[first.period_start == june].assign(is_final=True)
    again = build_snapshots(
        settings, as_of, rows, Coverage.complete(settings, {"mailchimp": as_of}), frozen
    )
    assert _one(again, "newsletter_new_subscribers", "month", june).status == "achieved"


def test_unique_visitors_are_projected_by_last_years_growth_after_the_same_share(settings):
    as_of = dt.date(2026, 11, 15)
    nov = dt.date(2026, 11, 1)
    rows = values(
        [
            ("website_visitors", "month", "period", nov, 2000.0),
            ("website_visitors", "month", "last_year", nov, 1800.0),
            ("website_visitors", "month", "last_year_full", nov, 3000.0),
            ("website_visitors", "month", "previous", nov, 1000.0),
            ("website_visitors", "month", "previous_full", nov, 1900.0),
        ]
    )
    cov = Coverage.complete(settings, {"ga4": as_of, "mailchimp": as_of})
    row = _one(build_snapshots(settings, as_of, rows, cov), "website_visitors", "month", nov)
    assert row.projection_method == "history"
    assert row.projected == pytest.approx(2000 * 3000 / 1800)  # not 2000 / 0.5 = 4000
    assert row.expected_to_date == pytest.approx(3400 * 1800 / 3000)
    no_ly = rows[rows.window_kind != "last_year_full"]
    row = _one(build_snapshots(settings, as_of, no_ly, cov), "website_visitors", "month", nov)
    assert row.projected == pytest.approx(2000 * 1.9) and row.projection_method == "history"
    only = rows[rows.window_kind == "period"]
    row = _one(build_snapshots(settings, as_of, only, cov), "website_visitors", "month", nov)
    assert row.projected == pytest.approx(4000) and row.projection_method == "linear"


def test_churn_is_paced_against_the_level_at_the_start(settings):
    as_of = dt.date(2026, 11, 10)
    nov = dt.date(2026, 11, 1)
    rows = values([("newsletter_churn_rate", "month", "period", nov, 0.01)])
    edited = settings.model_copy(update={"targets": {"newsletter_churn_rate": {"month": 0.02}}})
    row = _one(
        build_snapshots(edited, as_of, rows, Coverage.complete(settings, {"mailchimp": as_of})),
        "newsletter_churn_rate",
        "month",
        nov,
    )
    # 1% lost in a third of the month is 3% by its end: off track against 2%, not on track
    assert (
        row.projected == pytest.approx(0.03)
        and row.status == "off_track"
        and row.projection_method == "linear"
    )


def test_snapshots_of_an_older_release_gain_the_new_columns_and_keep_their_final_rows(settings):
    from kpi_pipeline.orchestration.assets.snapshots import write_snapshots
    from kpi_pipeline.warehouse.database import Warehouse

    wh = Warehouse(":memory:", settings.business_id)
    with wh.writer() as con:
        con.execute("create schema if not exists kpis")
        con.execute("create schema if not exists snapshots")
        con.execute(
            "create table kpis.kpi_window_values (business_id varchar, kpi_id varchar, grain "
            "varchar, window_kind varchar, period_start date, period_end date, window_start date, "
            "window_end date, dimension varchar, dimension_value varchar, numerator decimal(38, "
            "6), denominator decimal(38, 6), value double)"
        )
        con.execute(
            "create table snapshots.kpi_snapshots (business_id varchar, kpi_id varchar, grain "
            "varchar, period varchar, period_start date, period_end date, as_of date, actual "
            "double, target double, expected_to_date double, projected double, attainment double, "
            "status varchar, previous_actual double, change_pct double, last_year_actual double, "
            "elapsed_share double, is_closed boolean, is_final boolean, computed_at timestamptz)"
        )
        con.execute(
            "insert into snapshots.kpi_snapshots values ('studio_lumen', 'revenue', 'month', "
            "'2026-06', date '2026-06-01', date '2026-06-30', date '2026-11-01', 100, 90, 90, 100, "
            "1.1, 'achieved', null, null, null, 1, true, true, now())"
        )
    frame = write_snapshots(wh, settings, dt.date(2026, 11, 15))
    columns = {c[0] for c in wh.query("describe snapshots.kpi_snapshots")}
    assert {"projection_method", "status_reason"} <= columns
    june = _one(frame, "revenue", "month", dt.date(2026, 6, 1))
    assert june.status == "achieved" and june.as_of == dt.date(2026, 11, 1)  # final: kept as it was
    assert (
        wh.query(
            "select count(*) from snapshots.kpi_snapshot_history where status_reason is not null"
        )[0][0]
        > 0
    )
