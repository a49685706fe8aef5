"""Snapshot arithmetic at its boundaries (DESIGN §5)."""

import datetime as dt

import pandas as pd
import pytest

from kpi_pipeline.calendar import calendar_windows
from kpi_pipeline.config import load_config
from kpi_pipeline.scorecard import assess, build_snapshots


def a(**kw):
    args = dict(aggregation="sum", direction="higher", actual=50.0, target=100.0, elapsed_share=0.5,
                is_closed=False)
    args.update(kw)
    return assess(**args)


def test_sum_kpis_are_paced_and_projected():
    r = a(actual=45.0, elapsed_share=0.5)
    assert r.expected_to_date == 50.0 and r.projected == 90.0 and r.attainment == pytest.approx(0.9)


def test_at_risk_edge_is_inclusive_and_just_below_is_off_track():
    assert a(actual=45.0).status == "at_risk"            # projected exactly 90% of target
    assert a(actual=44.999).status == "off_track"
    assert a(actual=50.0).status == "on_track"            # projected exactly the target
    assert a(actual=49.999).status == "at_risk"


def test_at_risk_band_is_configurable():
    assert a(actual=40.0, at_risk_within=0.25).status == "at_risk"
    assert a(actual=40.0).status == "off_track"


def test_too_early_in_the_first_fifth_of_a_period():
    assert a(elapsed_share=0.19, actual=1.0).status == "too_early"
    assert a(elapsed_share=0.2, actual=1.0).status == "off_track"
    assert a(elapsed_share=0.2, actual=20.0).status == "on_track"


def test_direction_lower_inverts_the_comparison():
    low = dict(direction="lower", aggregation="ratio", target=0.02, elapsed_share=0.5)
    assert a(actual=0.02, **low).status == "on_track"
    assert a(actual=0.022, **low).status == "at_risk"      # 10% above a lower-is-better target
    assert a(actual=0.0221, **low).status == "off_track"
    assert a(actual=0.01, **low).attainment == pytest.approx(2.0)


def test_distinct_counts_are_paced_like_sums():
    r = a(aggregation="distinct", actual=60.0, target=100.0, elapsed_share=0.5)
    assert r.projected == 120.0 and r.expected_to_date == 50.0 and r.status == "on_track"


def test_non_sum_kpis_are_not_paced():
    r = a(aggregation="ratio", actual=0.3, target=0.4, elapsed_share=0.5)
    assert r.projected == 0.3 and r.expected_to_date == 0.4 and r.status == "off_track"
    r = a(aggregation="last", actual=2400.0, target=2400.0, elapsed_share=0.5)
    assert r.projected == 2400.0 and r.status == "on_track"


def test_closed_periods_are_achieved_or_missed():
    assert a(actual=100.0, elapsed_share=1.0, is_closed=True).status == "achieved"
    assert a(actual=99.0, elapsed_share=1.0, is_closed=True).status == "missed"
    assert a(actual=3.0, target=5.0, direction="lower", elapsed_share=1.0, is_closed=True).status == "achieved"


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
    month = w[(w.grain == "month") & (w.period_start == dt.date(2026, 11, 1))].set_index("window_kind")
    assert month.loc["period", "window_end"] == as_of
    assert (month.loc["previous", "window_start"], month.loc["previous", "window_end"]) == \
        (dt.date(2026, 10, 1), dt.date(2026, 10, 10))  # the first 10 days of last month
    assert month.loc["last_year", "window_end"] == dt.date(2025, 11, 10)
    closed = w[(w.grain == "month") & (w.period_start == dt.date(2026, 3, 1))].set_index("window_kind")
    assert closed.loc["previous", "window_end"] == dt.date(2026, 2, 28)  # all of a shorter month


def values(rows):
    return pd.DataFrame([dict(business_id="studio_lumen", kpi_id=k, grain=g, window_kind=w,
                              period_start=s, dimension=None, value=v) for k, g, w, s, v in rows])


def test_previous_final_rows_never_change_even_when_targets_do(settings):
    as_of = dt.date(2026, 11, 15)
    rows = values([("newsletter_new_subscribers", "month", "period", dt.date(2026, 6, 1), 120.0),
                   ("newsletter_new_subscribers", "month", "period", dt.date(2026, 11, 1), 70.0),
                   ("newsletter_new_subscribers", "month", "previous", dt.date(2026, 11, 1), 50.0)])
    coverage = {"mailchimp": as_of}
    first = build_snapshots(settings, as_of, rows, coverage)
    june = first[(first.kpi_id == "newsletter_new_subscribers") & (first.grain == "month")
                 & (first.period_start == dt.date(2026, 6, 1))].iloc[0]
    assert june.is_closed and june.is_final and june.status == "achieved" and june.target == 115
    nov = first[(first.kpi_id == "newsletter_new_subscribers") & (first.grain == "month")
                & (first.period_start == dt.date(2026, 11, 1))].iloc[0]
    assert not nov.is_closed and nov.previous_actual == 50.0 and nov.change_pct == pytest.approx(0.4)
    assert nov.projected == pytest.approx(70.0 / (15 / 30)) and nov.status == "on_track"

    edited = settings.model_copy(update={"targets": {**settings.targets,
                                                     "newsletter_new_subscribers": {"month": 500}}})
    finals = first[first.is_final]
    second = build_snapshots(edited, as_of + dt.timedelta(days=1), rows, coverage, finals)
    june2 = second[(second.kpi_id == "newsletter_new_subscribers") & (second.grain == "month")
                   & (second.period_start == dt.date(2026, 6, 1))].iloc[0]
    assert june2.target == 115 and june2.status == "achieved" and june2.as_of == as_of


def test_closed_but_not_final_inside_the_lookback(settings):
    as_of = dt.date(2026, 11, 15)
    snap = build_snapshots(settings, as_of, values([]), {"mailchimp": as_of})
    october = snap[(snap.grain == "month") & (snap.period_start == dt.date(2026, 10, 1))].iloc[0]
    assert october.is_closed and not october.is_final  # Mailchimp restates for up to 90 days


def test_a_stale_source_turns_its_kpis_to_no_data(settings):
    as_of = dt.date(2026, 11, 15)
    rows = values([("newsletter_new_subscribers", "month", "period", dt.date(2026, 11, 1), 999.0),
                   ("newsletter_new_subscribers", "month", "period", dt.date(2026, 10, 1), 130.0)])
    snap = build_snapshots(settings, as_of, rows, {"mailchimp": as_of - dt.timedelta(days=2)})
    nov = snap[(snap.kpi_id == "newsletter_new_subscribers") & (snap.grain == "month")
               & (snap.period_start == dt.date(2026, 11, 1))].iloc[0]
    assert nov.status == "no_data"
    older = snap[(snap.kpi_id == "newsletter_new_subscribers") & (snap.grain == "month")
                 & (snap.period_start == dt.date(2026, 10, 1))].iloc[0]
    assert older.status == "achieved"  # a period the source fully covered keeps its status


def test_values_are_formatted_for_people():
    from kpi_pipeline.render import fmt

    assert fmt(2467.0, "count") == "2,467" and fmt(1.0106, "count") == "1.01" and fmt(55.56, "count") == "55.6"
    assert fmt(0.2963, "ratio") == "29.6%" and fmt(3419.187, "currency", "EUR") == "EUR 3,419.19"
    assert fmt(None, "count") == "-" and fmt(float("nan"), "ratio") == "-"
