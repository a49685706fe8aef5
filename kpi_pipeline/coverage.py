"""Which days each source covered: the line between "zero" and "no data".

A source covers a business-local day when every one of its event streams (``StreamSpec.events``:
payments, meetings, campaigns, ad delivery...) has loaded that day successfully: a covered day
without events has a count of 0. A day no load reached is unknown, never 0. The hand-kept CSV
is the truth once loaded: it covers every day from history_start through as-of, and a day without
a row is 0 (owners enter weekly or monthly totals on one date of the period).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa

from kpi_pipeline.config import Settings
from kpi_pipeline.warehouse import Warehouse

SCHEMA = pa.schema([("business_id", pa.string()), ("source", pa.string()), ("day", pa.date32())])


def _days(start: dt.date, end: dt.date) -> set[dt.date]:
    return {start + dt.timedelta(days=i) for i in range((end - start).days + 1)} if start <= end else set()


def covered_days(wh: Warehouse, settings: Settings, as_of: dt.date) -> dict[str, set[dt.date]]:
    """Per enabled source, the days from history_start through as-of it covered."""
    from connectors.registry import streams

    loads: dict[tuple[str, str], list[tuple[dt.date, dt.date]]] = {}
    if wh.table_exists("raw._loads"):
        for source, stream, start, end in wh.query(
                "select distinct source, stream, window_start, window_end from raw._loads where business_id = ?",
                [settings.business_id]):
            loads.setdefault((source, stream), []).append((start, end))
    first = settings.history_start
    out: dict[str, set[dt.date]] = {}
    for source in settings.enabled_sources():
        days: set[dt.date] | None = None
        for spec in streams(source).values():
            if not spec.events:
                continue
            if spec.kind == "file":
                stream_days = _days(first, as_of) if loads.get((source, spec.name)) else set()
            else:
                stream_days = set()
                for start, end in loads.get((source, spec.name), []):
                    stream_days |= _days(max(start, first), min(end, as_of))
            days = stream_days if days is None else days & stream_days
        out[source] = days or set()
    return out


def coverage_table(wh: Warehouse, settings: Settings, as_of: dt.date) -> pa.Table:
    """kpis.coverage: one row per source per day it covered."""
    rows = [(source, day) for source, days in covered_days(wh, settings, as_of).items() for day in sorted(days)]
    return pa.table({"business_id": [settings.business_id] * len(rows), "source": [r[0] for r in rows],
                     "day": [r[1] for r in rows]}, schema=SCHEMA)


def last_covered(days: dict[str, set[dt.date]]) -> dict[str, dt.date]:
    """Per source, the last day it covered (for freshness)."""
    return {source: max(d) for source, d in days.items() if d}


def loaded_through(wh: Warehouse, settings: Settings) -> dict[str, dt.date]:
    """Per source, the day through which every one of its streams has been loaded (freshness)."""
    if not wh.table_exists("raw._loads"):
        return {}
    return through_from_loads(wh.query(LOADED_THROUGH_SQL, [settings.business_id]), settings)


LOADED_THROUGH_SQL = ("select source, stream, max(window_end) from raw._loads where business_id = ? "
                      "group by source, stream")


def through_from_loads(rows: list[tuple[str, str, dt.date]], settings: Settings) -> dict[str, dt.date]:
    """Per enabled source, the smallest of its streams' last loaded days (rows of LOADED_THROUGH_SQL)."""
    from connectors.registry import streams

    out: dict[str, dt.date] = {}
    for source in settings.enabled_sources():
        ends = {stream: end for src, stream, end in rows if src == source}
        if set(streams(source)) <= set(ends):
            out[source] = min(ends.values())
    return out


@dataclass
class Coverage:
    """What the sources covered: the days of their event streams, and how far all their streams
    were loaded. A KPI's period is fully covered when both reach every day up to as-of."""

    days: dict[str, set[dt.date]]
    through: dict[str, dt.date]
    _sorted: dict[str, list[dt.date]] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, wh: Warehouse, settings: Settings, as_of: dt.date) -> "Coverage":
        """The coverage the models used (kpis.coverage), else computed from the loads."""
        if not wh.table_exists("kpis.coverage"):
            return cls(covered_days(wh, settings, as_of), loaded_through(wh, settings))
        days: dict[str, set[dt.date]] = {s: set() for s in settings.enabled_sources()}
        for source, day in wh.query("select source, day from kpis.coverage where business_id = ? and day <= ?",
                                    [settings.business_id, as_of]):
            days.setdefault(source, set()).add(day)
        return cls(days, loaded_through(wh, settings))

    @classmethod
    def complete(cls, first: dt.date, through: dict[str, dt.date]) -> "Coverage":
        """Every day from ``first`` up to each source's ``through`` covered (tests, simulations)."""
        return cls({s: _days(first, end) for s, end in through.items()}, dict(through))

    def gaps(self, source: str, start: dt.date, end: dt.date) -> bool:
        """Whether ``source`` left any day of start..end uncovered."""
        if source not in self.through or self.through[source] < end:
            return True
        days = self._sorted.setdefault(source, sorted(self.days.get(source, ())))
        lo, hi = bisect.bisect_left(days, start), bisect.bisect_right(days, end)
        return hi - lo != (end - start).days + 1
