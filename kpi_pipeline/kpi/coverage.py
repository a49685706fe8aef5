"""Which days each KPI's inputs covered: the line between "zero", "partial" and "no data".

Coverage is per input (README.md#what-the-numbers-mean): a KPI reads certain raw streams (its
lineage through the SQL models, :mod:`kpi_pipeline.kpi.lineage`), and its period is covered when
those streams loaded every day of it, not when every stream of its platform did. A stream covers the
days its loads' windows spanned (``raw._loads``, clipped to history_start and as-of); a covered day
without events counts 0, an uncovered one is unknown. Point-in-time streams (``snapshot``: "only
reported as of now") are a best-available input, never a requirement: a back-dated run still scores
what the rest gives. Streams computed per as-of or per month count as covering every day up to
their last load. The hand-kept CSV covers each custom KPI from history_start through the last date
entered for it, never through as-of: weeks not typed in yet are not zeros.

For a KPI's period, :meth:`Coverage.judge` says one of: covered; partial (the period starts
before history_start or before the history a platform keeps: its covered part is shown, not
scored); lagging (a custom KPI typed in up to a day before as-of: paced through that day); or
not covered, with a true reason naming the stream and why.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa

from connectors.registry import streams
from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.lineage import kpi_streams
from kpi_pipeline.warehouse.database import Warehouse

SCHEMA = pa.schema([("business_id", pa.string()), ("kpi_id", pa.string()), ("day", pa.date32())])
StreamId = tuple[str, str]  # (source, stream)


def _days(start: dt.date, end: dt.date) -> set[dt.date]:
    return (
        {start + dt.timedelta(days=i) for i in range((end - start).days + 1)}
        if start <= end
        else set()
    )


def _fmt(day: dt.date) -> str:
    return day.isoformat()


LOADED_THROUGH_SQL = (
    "select source, stream, max(window_end) from raw._loads where business_id = ? "
    "group by source, stream"
)
MANUAL_THROUGH_SQL = (
    "select kpi_id, max(date) from raw.manual__metrics where business_id = ? group by kpi_id"
)


def through_from_loads(
    rows: list[tuple[str, str, dt.date]],
    settings: Settings,
    manual_last: dict[str, dt.date] | None = None,
) -> dict[str, dt.date]:
    """Per enabled source, the smallest of its streams' last loaded days (rows of
    LOADED_THROUGH_SQL); the CSV's is the earliest of its custom KPIs' last dates entered
    (``manual_last``, rows of MANUAL_THROUGH_SQL), not the day the file was read.

    A point-in-time stream the platform serves only as of now (Mailchimp's members, Instagram's
    account) that was never recorded does not make its source "not loaded yet": a back-dated
    first sync cannot record it, and its KPIs say so themselves. Once recorded, it counts.
    """
    out: dict[str, dt.date] = {}
    for source in settings.enabled_sources():
        ends = {stream: end for src, stream, end in rows if src == source}
        specs = streams(source)
        needed = {name for name, spec in specs.items() if spec.kind != "snapshot"} or set(specs)
        if not ends or not needed <= set(ends):
            continue
        if source == "manual":
            lasts = [
                d
                for k, d in (manual_last or {}).items()
                if k in {c.id for c in settings.custom_kpis}
            ]
            if lasts:
                out[source] = min(lasts)
            continue
        out[source] = min(ends.values())
    return out


def loaded_through(wh: Warehouse, settings: Settings) -> dict[str, dt.date]:
    """Per source, the day through which every one of its streams has been loaded (freshness)."""
    with wh.reader():  # one open of the file for its queries
        if not wh.table_exists("raw._loads"):
            return {}
        manual = (
            dict(wh.query(MANUAL_THROUGH_SQL, [settings.business_id]))
            if wh.table_exists("raw.manual__metrics")
            else {}
        )
        loads = wh.query(LOADED_THROUGH_SQL, [settings.business_id])
    return through_from_loads(loads, settings, manual)


@dataclass
class Verdict:
    """What the inputs of one KPI covered of one period.

    Attributes:
        uncovered: a reason when the period is not covered (the KPI is ``no_data``).
        partial_from: the first covered day when the period starts before what can be had.
        through: the last day the KPI's value stands for (before as-of for a lagging CSV).
        note: why the period is partial or lagging, and how to fill it.
    """

    uncovered: str | None = None
    partial_from: dt.date | None = None
    through: dt.date | None = None
    note: str | None = None


@dataclass
class Coverage:
    """Days each stream covered, each KPI's streams, and the CSV's last date per custom KPI."""

    history_start: dt.date
    stream_days: dict[StreamId, set[dt.date]]
    loaded_until: dict[StreamId, dt.date]  # the last day of each stream's last load
    kpi_inputs: dict[str, tuple[StreamId, ...]]
    manual_last: dict[str, dt.date] = field(default_factory=dict)
    limits: dict[StreamId, tuple[int, str]] = field(
        default_factory=dict
    )  # (history_days, note) of limited streams
    _sorted: dict[StreamId, list[dt.date]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ building

    @classmethod
    def read(cls, wh: Warehouse, settings: Settings, as_of: dt.date) -> Coverage:
        """What the loads recorded in ``raw._loads`` covered up to as-of."""
        loads: dict[StreamId, list[tuple[dt.date, dt.date]]] = {}
        if wh.table_exists("raw._loads"):
            for source, stream, start, end in wh.query(
                "select distinct source, stream, window_start, window_end from "
                "raw._loads where business_id = ?",
                [settings.business_id],
            ):
                loads.setdefault((source, stream), []).append((start, end))
        manual = (
            dict(wh.query(MANUAL_THROUGH_SQL, [settings.business_id]))
            if "manual" in settings.enabled_sources() and wh.table_exists("raw.manual__metrics")
            else {}
        )
        first = settings.history_start
        days: dict[StreamId, set[dt.date]] = {}
        until: dict[StreamId, dt.date] = {}
        limits: dict[StreamId, tuple[int, str]] = {}
        for source in settings.enabled_sources():
            for spec in streams(source).values():
                sid = (source, spec.name)
                windows = loads.get(sid, [])
                if windows:
                    until[sid] = max(end for _, end in windows)
                if spec.history_days is not None:
                    limits[sid] = (spec.history_days, spec.history_note)
                covered: set[dt.date] = set()
                if spec.kind in ("as_of", "monthly", "file") and windows:
                    covered = _days(first, min(until[sid], as_of))
                elif spec.kind in (
                    "daily",
                    "changes",
                    "snapshot",
                ):  # a snapshot's window: the day it recorded;
                    # "changes" (records upserted by last modification):
                    # the span its load left complete
                    for start, end in windows:
                        covered |= _days(max(start, first), min(end, as_of))
                days[sid] = covered
        return cls(
            first,
            days,
            until,
            kpi_streams(settings.kpis(), settings.enabled_sources()),
            manual,
            limits,
        )

    @classmethod
    def complete(cls, settings: Settings, through: dict[str, dt.date]) -> Coverage:
        """Every stream of each source in ``through`` covered from history_start up to its date
        (tests, simulations); a custom KPI is entered through the CSV's date."""
        days, until = {}, {}
        for source, end in through.items():
            for name in streams(source):
                days[(source, name)] = _days(settings.history_start, end)
                until[(source, name)] = end
        manual = (
            {c.id: through["manual"] for c in settings.custom_kpis} if "manual" in through else {}
        )
        return cls(
            settings.history_start,
            days,
            until,
            kpi_streams(settings.kpis(), settings.enabled_sources()),
            manual,
        )

    # ------------------------------------------------------------------ questions

    def required(self, kpi_id: str) -> list[StreamId]:
        """The streams a KPI's value needs (point-in-time and supplementary streams are a
        best-available input, never a requirement)."""
        return [
            sid
            for sid in self.kpi_inputs.get(kpi_id, ())
            if streams(sid[0])[sid[1]].kind != "snapshot"
            and not streams(sid[0])[sid[1]].supplementary
        ]

    def kpi_days(self, kpi_id: str, as_of: dt.date) -> set[dt.date]:
        """The days up to as-of every required stream of the KPI covered."""
        if self.kpi_inputs.get(kpi_id) == (("manual", "metrics"),):
            if ("manual", "metrics") not in self.loaded_until:
                return set()
            last = self.manual_last.get(kpi_id)
            return _days(self.history_start, min(last, as_of)) if last else set()
        needed = self.required(kpi_id)
        if not needed:
            return set()
        out = set(self.stream_days.get(needed[0], set()))
        for sid in needed[1:]:
            out &= self.stream_days.get(sid, set())
        return out

    def unrecorded(self, kpi_id: str, day: dt.date) -> list[StreamId]:
        """The point-in-time streams of the KPI that recorded nothing for ``day``."""
        return [
            sid
            for sid in self.kpi_inputs.get(kpi_id, ())
            if streams(sid[0])[sid[1]].kind == "snapshot"
            and day not in self.stream_days.get(sid, ())
        ]

    def table(self, settings: Settings, as_of: dt.date) -> pa.Table:
        """kpis.coverage: one row per KPI per day its inputs covered."""
        kpis, days = [], []
        for kpi in settings.kpis():
            for day in sorted(self.kpi_days(kpi.id, as_of)):
                kpis.append(kpi.id)
                days.append(day)
        return pa.table(
            {"business_id": [settings.business_id] * len(kpis), "kpi_id": kpis, "day": days},
            schema=SCHEMA,
        )

    def _covered(self, sid: StreamId) -> list[dt.date]:
        if sid not in self._sorted:
            self._sorted[sid] = sorted(self.stream_days.get(sid, ()))
        return self._sorted[sid]

    def judge(self, kpi_id: str, aggregation: str, start: dt.date, through: dt.date) -> Verdict:
        """What the KPI's inputs covered of start..through (through: the period's end or as-of).

        A level (``last``) needs only the day it stands for; a flow needs every day of the period.
        """
        if self.kpi_inputs.get(kpi_id) == (("manual", "metrics"),):
            return self._judge_csv(kpi_id, start, through)
        first_needed = through if aggregation == "last" else start
        verdict = Verdict(through=through)
        for sid in self.required(kpi_id):
            days = self._covered(sid)
            name = f"{sid[0]}/{sid[1]}"
            lo, hi = bisect.bisect_left(days, first_needed), bisect.bisect_right(days, through)
            if hi - lo == (through - first_needed).days + 1:
                continue  # every day covered
            if not days:
                return Verdict(uncovered=f"{name} never loaded (run kpi sync)")
            if (
                hi > lo
                and days[lo] > first_needed
                and _contiguous(days, lo, hi)
                and days[hi - 1] == through
            ):
                cause = self._before(sid, days[lo])  # only the start is missing: can it be had?
                if cause is not None:
                    if verdict.partial_from is None or days[lo] > verdict.partial_from:
                        verdict.partial_from, verdict.note = days[lo], cause
                    continue
            gap_start, gap_end = _first_gap(days, first_needed, through)
            if gap_start > days[-1]:
                return Verdict(
                    uncovered=f"{name} not loaded after {_fmt(days[-1])} "
                    "(failed or not synced since)"
                )
            return Verdict(
                uncovered=f"{name} not loaded for {_fmt(gap_start)}..{_fmt(gap_end)} "
                f"(failed or not synced; kpi sync --start {gap_start} --end {gap_end} fills it)"
            )
        return verdict

    def _before(self, sid: StreamId, covered_from: dt.date) -> str | None:
        """Why nothing before ``covered_from`` can be had, or None when it could (a gap to fill)."""
        if covered_from <= self.history_start:
            return (
                f"since {_fmt(covered_from)}: history_start is {_fmt(self.history_start)} "
                f"(an earlier history_start and kpi sync --history fill the rest)"
            )
        days, note = self.limits.get(sid, (0, ""))
        until = self.loaded_until.get(sid)
        # the platform's oldest day when the stream was last loaded:
        # older days cannot be had any more
        if days and until is not None and covered_from <= until - dt.timedelta(days=days - 2):
            return (
                f"since {_fmt(covered_from)}: {note} "
                f"(earlier days can no longer be fetched from the platform)"
            )
        return None

    def _judge_csv(self, kpi_id: str, start: dt.date, through: dt.date) -> Verdict:
        if ("manual", "metrics") not in self.loaded_until:
            return Verdict(uncovered="manual/metrics never loaded (run kpi sync)")
        last = self.manual_last.get(kpi_id)
        if last is None:
            return Verdict(uncovered=f"manual/metrics: the CSV has no rows for {kpi_id} yet")
        if last < start:
            return Verdict(
                uncovered=f"manual/metrics: the CSV has {kpi_id} through {_fmt(last)}; "
                f"nothing entered for this period yet"
            )
        verdict = Verdict(through=min(through, last))
        if last < through:
            verdict.note = f"through {_fmt(last)}, the last date entered in the CSV for {kpi_id}"
        if start < self.history_start:
            verdict.partial_from = self.history_start
            verdict.note = (
                f"since {_fmt(self.history_start)}: history_start is {_fmt(self.history_start)} "
                f"(an earlier history_start and kpi sync --history fill the rest)"
            )
        return verdict


def _contiguous(days: list[dt.date], lo: int, hi: int) -> bool:
    return hi > lo and (days[hi - 1] - days[lo]).days == hi - lo - 1


def _first_gap(days: list[dt.date], start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The first run of uncovered days in start..end (days: sorted covered days)."""
    have = set(days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)])
    day = start
    while day in have:
        day += dt.timedelta(days=1)
    gap_end = day
    while gap_end + dt.timedelta(days=1) <= end and gap_end + dt.timedelta(days=1) not in have:
        gap_end += dt.timedelta(days=1)
    return day, gap_end


def coverage_table(wh: Warehouse, settings: Settings, as_of: dt.date) -> pa.Table:
    """kpis.coverage: one row per KPI per day its inputs covered."""
    return Coverage.read(wh, settings, as_of).table(settings, as_of)
