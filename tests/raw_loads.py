"""Raw rows landed as a load lands them, for tests of the models (test_zero_values.py,
test_intro_calls.py).

A helper module, not a test module, so neither test file imports the other.
"""

import datetime as dt

from connectors.registry import SOURCES
from connectors.streams import Page, StreamContext, Window
from kpi_pipeline.warehouse.loading import LoadResult, page_to_arrow, record_load

AS_OF = dt.date(2026, 3, 10)  # the as-of the loads are stamped with


def load(wh, source, stream, records, start, end):
    """Land ``records`` as one successful load of start..end (covered even when empty)."""
    spec = SOURCES[source][1][stream]
    ctx = StreamContext("Europe/Brussels", AS_OF, AS_OF)
    tbl = page_to_arrow(
        spec,
        Page(records, "acct"),
        ctx,
        wh.business_id,
        dt.datetime(2026, 3, 11, tzinfo=dt.timezone.utc),
    )
    wh.replace_range(
        spec.table,
        [(c.name, c.type) for c in spec.columns],
        spec.key,
        spec.date_column,
        start,
        end,
        [tbl],
    )
    record_load(wh, spec, LoadResult(stream, Window(start, end), rows=len(records)), ctx)


def meeting(day, name="Intro call", status="active"):
    """A Calendly scheduled event on ``day`` as the API returns it."""
    return {
        "uri": f"https://api.calendly.com/scheduled_events/{day}{name}",
        "name": name,
        "status": status,
        "start_time": f"{day}T10:00:00.000000Z",
        "event_type": "https://api.calendly.com/event_types/A",
        "created_at": "2026-01-20T10:00:00.000000Z",
    }


def value(wh, kpi, grain, start):
    """(value, denominator) of a KPI's total for one period, or None without a row."""
    rows = wh.query(
        "select value, denominator from kpis.kpi_values where kpi_id = ? and grain = ? "
        "and period_start = ? and dimension is null",
        [kpi, grain, start],
    )
    return rows[0] if rows else None
