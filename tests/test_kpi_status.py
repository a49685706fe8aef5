"""A KPI's status, projection and pacing from its actual and target, at their boundaries
(README.md#what-the-numbers-mean)."""

import pytest

from kpi_pipeline.kpi.scorecard import assess


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
