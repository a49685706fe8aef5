import datetime as dt

import pytest

from kpi_pipeline.kpi.periods import WEEKDAYS, label, parse_label, period_end, period_start


@pytest.mark.parametrize("week_start", WEEKDAYS)
def test_week_labels_round_trip_for_every_week_start(week_start):
    for offset in range(0, 800, 3):
        day = dt.date(2024, 12, 1) + dt.timedelta(days=offset)
        start = period_start("week", day, week_start)
        assert start <= day <= period_end("week", start)
        assert parse_label("week", label("week", start, week_start), week_start) == start


def test_iso_week_numbers_for_monday_weeks():
    assert label("week", dt.date(2026, 11, 23)) == "2026-W48"
    assert label("week", dt.date(2024, 12, 30)) == "2025-W01"  # ISO year differs from calendar year


@pytest.mark.parametrize(
    "grain,text,start",
    [
        ("month", "2026-02", dt.date(2026, 2, 1)),
        ("quarter", "2026-Q4", dt.date(2026, 10, 1)),
        ("year", "2026", dt.date(2026, 1, 1)),
        ("week", "2026-W01", dt.date(2025, 12, 29)),
    ],
)
def test_parse_labels(grain, text, start):
    assert parse_label(grain, text) == start


@pytest.mark.parametrize(
    "grain,text,reason",
    [
        ("month", "2026-13", "not a month"),
        ("quarter", "2026-Q5", "not a quarter"),
        ("week", "2026-W54", "not a week"),
        ("year", "26", "not a year"),
        ("month", "2026-Q1", "not a month"),
    ],
)
def test_bad_labels_say_what_they_are_not(grain, text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_label(grain, text)


def test_period_ends():
    assert period_end("month", dt.date(2024, 2, 1)) == dt.date(2024, 2, 29)
    assert period_end("quarter", dt.date(2026, 10, 1)) == dt.date(2026, 12, 31)
    assert period_end("year", dt.date(2026, 1, 1)) == dt.date(2026, 12, 31)
