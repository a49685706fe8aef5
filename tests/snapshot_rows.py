"""Scorecard rows built by hand, for the reporting tests (test_scorecard_formats.py,
test_review.py, test_report_command.py).

A helper module, not a test module, so no test file imports another.
"""

import datetime as dt

import pandas as pd

from kpi_pipeline.kpi.scorecard import SNAPSHOT_COLUMNS

AS_OF = dt.date(2026, 11, 15)


def month(m, year=2026):
    """The first and last day of month ``m``."""
    start = dt.date(year, m, 1)
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return start, end


def row(kpi_id, grain, start, end, actual, target=None, status="achieved", **kw):
    """One kpi_snapshots row as of AS_OF; ``kw`` sets any other column."""
    closed = AS_OF >= end
    base = {c: None for c in SNAPSHOT_COLUMNS}
    base.update(
        business_id="studio_lumen",
        kpi_id=kpi_id,
        grain=grain,
        period_start=start,
        period_end=end,
        as_of=AS_OF,
        actual=actual,
        target=target,
        status=status,
        is_closed=closed,
        is_final=False,
        elapsed_share=1.0 if closed else 0.5,
        projected=actual,
        projection_method="none",
        computed_at=dt.datetime(2026, 11, 16, 3, 0),
    )
    base.update(kw)
    return base


def frame(rows):
    """Rows as the kpi_snapshots frame the reports read."""
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def revenue_year(settings):
    """Revenue per month Jan..Nov 2026 (November open: 6,000 so far) and the quarters."""
    rows = []
    for m in range(1, 12):
        start, end = month(m)
        actual = 6000.0 if m == 11 else 10000.0 + 500 * m
        rows.append(
            row(
                "revenue",
                "month",
                start,
                end,
                actual,
                12000.0,
                "achieved" if actual >= 12000 else ("off_track" if m == 11 else "missed"),
                previous_actual=10000.0 + 500 * (m - 1) if m > 1 else None,
                expected_to_date=6000.0 if m == 11 else 12000.0,
            )
        )
    for q in range(1, 5):
        start, end = month(3 * q - 2)[0], month(3 * q)[1]
        actual = sum(r["actual"] for r in rows if start <= r["period_start"] <= end)
        rows.append(
            row(
                "revenue",
                "quarter",
                start,
                end,
                actual,
                36000.0,
                "achieved" if actual >= 36000 else "missed" if end <= AS_OF else "off_track",
            )
        )
    return rows
