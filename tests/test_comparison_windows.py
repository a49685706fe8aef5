"""What a period is compared with: like for like while open, the whole previous period once
closed, the same ISO week last year (README.md#what-the-numbers-mean)."""

import datetime as dt

import pytest

from kpi_pipeline.config.settings import load_config
from kpi_pipeline.kpi.calendar import calendar_windows


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
