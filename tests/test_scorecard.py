"""Snapshot arithmetic at its boundaries (README.md#what-the-numbers-mean)."""

import datetime as dt

import pandas as pd
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.kpi.calendar import calendar_windows
from kpi_pipeline.kpi.coverage import Coverage
from kpi_pipeline.kpi.scorecard import assess, build_snapshots


def a(**kw):
    args = dict(
        pacing="linear",
        direction="higher",
        actual=50.0,
        target=100.0,
        elapsed_share=0.5,
        is_closed=False,
    )
    args.update(kw)
    return assess(**args)


def test_sum_kpis_are_paced_and_projected():
    r = a(actual=45.0, elapsed_share=0.5)
    assert r.expected_to_date == 50.0 and r.projected == 90.0 and r.attainment == pytest.approx(0.9)


def test_at_risk_edge_is_inclusive_and_just_below_is_off_track():
    assert a(actual=45.0).status == "at_risk"  # projected exactly 90% of target
    assert a(actual=44.999).status == "off_track"
    assert a(actual=50.0).status == "on_track"  # projected exactly the target
    assert a(actual=49.999).status == "at_risk"


def test_at_risk_band_is_configurable():
    assert a(actual=40.0, at_risk_within=0.25).status == "at_risk"
    assert a(actual=40.0).status == "off_track"


def test_too_early_in_the_first_fifth_of_a_period():
    assert a(elapsed_share=0.19, actual=1.0).status == "too_early"
    assert a(elapsed_share=0.2, actual=1.0).status == "off_track"
    assert a(elapsed_share=0.2, actual=20.0).status == "on_track"


def test_direction_lower_inverts_the_comparison():
    low = dict(direction="lower", pacing="none", target=0.02, elapsed_share=0.5)
    assert a(actual=0.02, **low).status == "on_track"
    assert a(actual=0.022, **low).status == "at_risk"  # 10% above a lower-is-better target
    assert a(actual=0.0221, **low).status == "off_track"
    assert a(actual=0.01, **low).attainment == pytest.approx(2.0)


def test_unique_counts_are_paced_by_history_else_linearly():
    # last year 80 after half the period and 100 at its end: a unique count grows 1.25x after half
    r = a(pacing="history", actual=60.0, target=100.0, elapsed_share=0.5, growth=1.25)
    assert r.projected == 75.0 and r.expected_to_date == 80.0 and r.status == "off_track"
    assert r.projection_method == "history"
    r = a(pacing="history", actual=60.0, target=100.0, elapsed_share=0.5, growth=None)
    assert r.projected == 120.0 and r.expected_to_date == 50.0 and r.projection_method == "linear"


def test_non_accumulating_kpis_are_not_paced():
    r = a(pacing="none", actual=0.3, target=0.4, elapsed_share=0.5)
    assert r.projected == 0.3 and r.expected_to_date == 0.4 and r.status == "off_track"
    assert r.projection_method == "none"
    r = a(pacing="none", actual=2400.0, target=2400.0, elapsed_share=0.5)
    assert r.projected == 2400.0 and r.status == "on_track"
    assert a(actual=100.0, elapsed_share=1.0, is_closed=True).projection_method == "none"


def test_pacing_follows_how_each_kpi_accumulates():
    from kpi_pipeline.kpi.catalog import builtin_kpis

    pacing = {k.id: k.pacing for k in builtin_kpis()}
    assert pacing["newsletter_new_subscribers"] == pacing["revenue"] == "linear"
    assert pacing["newsletter_churn_rate"] == pacing["instagram_follower_growth_rate"] == "linear"
    assert pacing["website_visitors"] == pacing["organic_search_visitors"] == "history"
    assert pacing["email_open_rate"] == pacing["newsletter_subscribers"] == "none"
    assert pacing["call_conversion_rate"] == pacing["lead_conversion_rate"] == "cohort"
    assert pacing["orders_per_customer"] == "none"


def test_closed_periods_are_achieved_or_missed():
    assert a(actual=100.0, elapsed_share=1.0, is_closed=True).status == "achieved"
    assert a(actual=99.0, elapsed_share=1.0, is_closed=True).status == "missed"
    assert (
        a(actual=3.0, target=5.0, direction="lower", elapsed_share=1.0, is_closed=True).status
        == "achieved"
    )


def test_no_target_no_data_and_stale():
    assert a(target=None).status == "no_target"
    assert a(actual=None).status == "no_data"
    assert a(actual=500.0, stale=True).status == "no_data"  # stale is never on track


@pytest.fixture
def settings():
    return load_config("kpi.yaml")


def test_like_for_like_windows(settings):
    as_of = dt.date(2026, 11, 10)
    w = calendar_windows(settings, as_of)
    month = w[(w.grain == "month") & (w.period_start == dt.date(2026, 11, 1))].set_index(
        "window_kind"
    )
    assert month.loc["period", "window_end"] == as_of
    assert (month.loc["previous", "window_start"], month.loc["previous", "window_end"]) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 10),
    )  # the first 10 days of last month
    assert month.loc["last_year", "window_end"] == dt.date(2025, 11, 10)
    closed = w[(w.grain == "month") & (w.period_start == dt.date(2026, 3, 1))].set_index(
        "window_kind"
    )
    assert closed.loc["previous", "window_end"] == dt.date(2026, 2, 28)  # all of a shorter month


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


def test_a_closed_month_is_compared_with_the_whole_previous_month(settings):
    from kpi_pipeline.kpi.calendar import comparison_windows

    kinds = {
        k: (s, e)
        for k, s, e in comparison_windows(
            "month", dt.date(2026, 9, 1), dt.date(2026, 11, 15), "monday"
        )
    }
    assert kinds == {
        "previous": (dt.date(2026, 8, 1), dt.date(2026, 8, 31)),
        "last_year": (dt.date(2025, 9, 1), dt.date(2025, 9, 30)),
    }
    # open: 10 of November's 30 days against 10 of October's 31, and the whole of both for pacing
    kinds = {
        k: (s, e)
        for k, s, e in comparison_windows(
            "month", dt.date(2026, 11, 1), dt.date(2026, 11, 10), "monday"
        )
    }
    assert kinds["previous"] == (dt.date(2026, 10, 1), dt.date(2026, 10, 10))
    assert kinds["previous_full"] == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert kinds["last_year_full"] == (dt.date(2025, 11, 1), dt.date(2025, 11, 30))
    # half of February (14 of 28 days) is half of January (15.5 of 31 days: a tie rounds down)
    kinds = dict(
        (k, (s, e))
        for k, s, e in comparison_windows(
            "month", dt.date(2027, 2, 1), dt.date(2027, 2, 14), "monday"
        )
    )
    assert kinds["previous"] == (dt.date(2027, 1, 1), dt.date(2027, 1, 15))


def test_a_week_is_compared_with_the_same_iso_week_last_year_and_week_53_has_none():
    from kpi_pipeline.kpi.calendar import comparison_windows

    w53 = {
        k
        for k, _, _ in comparison_windows(
            "week", dt.date(2026, 12, 28), dt.date(2027, 1, 3), "monday"
        )
    }
    assert w53 == {"previous"}  # 2025 has no week 53
    w01 = {
        k: (s, e)
        for k, s, e in comparison_windows(
            "week", dt.date(2027, 1, 4), dt.date(2027, 1, 10), "monday"
        )
    }
    assert w01["last_year"] == (
        dt.date(2025, 12, 29),
        dt.date(2026, 1, 4),
    )  # 2026-W01, not 2026-W53
    assert w01["previous"] == (dt.date(2026, 12, 28), dt.date(2027, 1, 3))
    # Sunday weeks carry the number of the ISO week holding their Wednesday
    sun = {
        k: (s, e)
        for k, s, e in comparison_windows(
            "week", dt.date(2026, 11, 22), dt.date(2026, 11, 28), "sunday"
        )
    }
    assert sun["last_year"] == (dt.date(2025, 11, 23), dt.date(2025, 11, 29))


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
