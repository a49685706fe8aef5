"""Maturing conversion cohorts are projected by the cohorts that matured.

The rule: README.md#what-the-numbers-mean, "Conversions are cohorts".
"""

import datetime as dt

import pandas as pd
import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.kpi.cohorts import cohorts_from_rows
from kpi_pipeline.kpi.coverage import Coverage
from kpi_pipeline.kpi.scorecard import assess, build_snapshots

D = dt.date
KPI = "lead_conversion_rate"


def matured_and_young(as_of=D(2026, 1, 31), window=10, since=D(2026, 1, 1)):
    # Jan 1 (matured): 100 leads, 20 bought: 5 two days after, 10 after five days, 5 after nine
    rows = [
        (KPI, D(2026, 1, 1), 2, 5),
        (KPI, D(2026, 1, 1), 5, 10),
        (KPI, D(2026, 1, 1), 9, 5),
        (KPI, D(2026, 1, 1), None, 80),
        # Jan 24 (age 7) and Jan 29 (age 2) are still maturing: what they show so far
        (KPI, D(2026, 1, 24), 3, 2),
        (KPI, D(2026, 1, 24), None, 8),
        (KPI, D(2026, 1, 29), None, 30),
        (KPI, D(2026, 1, 30), None, 5),
        (KPI, D(2026, 2, 3), None, 50),
    ]  # after as-of: not a member yet
    return cohorts_from_rows(rows, as_of, window, since)


def test_the_curve_is_the_share_of_final_conversions_reached_by_each_age():
    c = matured_and_young()
    assert c.reached[KPI] == pytest.approx((0, 0, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75, 1, 1))
    # one maturing day: to-date x final / to-date at the same age
    assert c.factor(KPI, D(2026, 1, 24), D(2026, 1, 24)) == pytest.approx(1 / 0.75)
    # members of different ages weigh by their number: (10 x .75 + 30 x .25 + 5 x 0) / 45
    assert c.share(KPI, D(2026, 1, 19), D(2026, 1, 31)) == pytest.approx(15 / 45)
    assert c.share(KPI, D(2026, 2, 1), D(2026, 2, 28)) is None  # no member up to as-of


def test_only_matured_members_since_history_start_teach_the_curve():
    # matured means the whole window has passed: Jan 21 + 10 days = as-of
    c = cohorts_from_rows(
        [(KPI, D(2026, 1, 21), 10, 4), (KPI, D(2026, 1, 22), 0, 4)],
        D(2026, 1, 31),
        10,
        D(2026, 1, 1),
    )
    assert c.reached[KPI][0] == 0 and c.reached[KPI][10] == 1
    assert (
        cohorts_from_rows([(KPI, D(2025, 12, 1), 1, 4)], D(2026, 1, 31), 10, D(2026, 1, 1)).reached
        == {}
    )
    young = cohorts_from_rows([(KPI, D(2026, 1, 25), 1, 4)], D(2026, 1, 31), 10, D(2026, 1, 1))
    assert (
        young.factor(KPI, D(2026, 1, 1), D(2026, 1, 31)) is None
    )  # nothing matured: no projection


def test_a_cohort_too_young_to_have_reached_any_conversion_yet_is_not_projected():
    c = matured_and_young()
    # members of age 1 should show nothing yet: dividing by 0 would be infinite
    assert c.factor(KPI, D(2026, 1, 30), D(2026, 1, 31)) is None


def cohort(**kw):
    args = dict(
        pacing="cohort",
        direction="higher",
        actual=0.1,
        target=0.15,
        elapsed_share=1.0,
        is_closed=False,
        growth=2.0,
    )
    args.update(kw)
    return assess(**args)


def test_a_maturing_cohort_is_scored_by_its_projection_never_missed_for_want_of_time():
    r = cohort()
    assert (r.projected, r.expected_to_date, r.projection_method) == (
        pytest.approx(0.2),
        0.075,
        "cohort",
    )
    assert r.status == "on_track" and r.attainment == pytest.approx(0.2 / 0.15)
    assert cohort(actual=0.07).status == "at_risk"  # 0.14 projected: within 10% of 0.15
    assert cohort(actual=0.05).status == "off_track"
    r = cohort(growth=None)  # no matured cohort to learn from
    assert (r.status, r.projected, r.projection_method) == ("too_early", None, "none")
    assert cohort(growth=None, target=None).status == "no_target"
    assert cohort(growth=None, stale=True).status == "no_data"
    assert cohort(is_closed=True).status == "missed"  # once matured, the value is final


@pytest.fixture
def settings():
    return load_config("kpi.yaml")


def test_closed_months_inside_the_window_are_projected_and_matured_ones_are_scored(settings):
    as_of = D(2026, 12, 6)
    months = {D(2026, 8, 1): 0.16, D(2026, 10, 1): 0.14, D(2026, 11, 1): 0.04}
    window_values = pd.DataFrame(
        [
            dict(
                business_id=settings.business_id,
                kpi_id=KPI,
                grain="month",
                window_kind="period",
                period_start=s,
                dimension=None,
                value=v,
            )
            for s, v in months.items()
        ]
    )
    coverage = Coverage.complete(settings, {"hubspot": as_of, "stripe": as_of})
    # matured leads (up to Sep 7) bought a quarter on the day, the rest 30 days after
    rows = [
        (KPI, D(2026, 8, 1), 0, 1),
        (KPI, D(2026, 8, 1), 30, 3),
        (KPI, D(2026, 8, 1), None, 16),
        (KPI, D(2026, 10, 15), None, 10),
        (KPI, D(2026, 11, 20), None, 10),
    ]
    cohorts = cohorts_from_rows(
        rows, as_of, settings.conversion_window_days, settings.history_start
    )

    def month(frame, start):
        return frame[
            (frame.kpi_id == KPI) & (frame.grain == "month") & (frame.period_start == start)
        ].iloc[0]

    snaps = build_snapshots(settings, as_of, window_values, coverage, cohorts=cohorts)
    august, october, november = (month(snaps, s) for s in months)
    assert (august.status, august.projection_method, august.is_final) == ("achieved", "none", True)
    # October's leads (Oct 15) are 52 days old: all their conversions are due, 0.14 stays 0.14
    assert (october.projection_method, october.projected, october.status) == (
        "cohort",
        0.14,
        "at_risk",
    )
    assert october.is_closed and not october.is_final
    # November's (Nov 20) are 16 days old: a quarter of the conversions are due, 0.04 -> 0.16
    assert (november.projection_method, november.projected, november.status) == (
        "cohort",
        pytest.approx(0.16),
        "on_track",
    )
    assert november.expected_to_date == pytest.approx(0.15 / 4)

    without = build_snapshots(settings, as_of, window_values, coverage)  # no matured cohort known
    assert (
        month(without, D(2026, 11, 1)).status
        == month(without, D(2026, 10, 1)).status
        == "too_early"
    )
    assert month(without, D(2026, 8, 1)).status == "achieved"
