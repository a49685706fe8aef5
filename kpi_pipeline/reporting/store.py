"""Reading snapshots for people: the analysts' published copy, the current as-of or a past one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pandas as pd

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.kpi.periods import period_start, previous_start

Query = Callable[[str, list[Any]], pd.DataFrame]
# the as-of of the newest run: rows kept final from earlier runs keep their
# own as-of and computed_at
CURRENT_AS_OF_SQL = (
    "select as_of from snapshots.kpi_snapshots where business_id = ? "
    "order by computed_at desc, as_of desc limit 1"
)

# a past as-of: that run's rows, with the periods that were already final then (kept,
# not re-recorded)
PAST_SQL = """
select * from snapshots.kpi_snapshot_history where business_id = ? and as_of = ?
union all by name
select * from snapshots.kpi_snapshots s where s.business_id = ? and s.is_final and s.period_end <= ? and not exists (
    select 1 from snapshots.kpi_snapshot_history h where h.business_id = s.business_id and h.as_of = ?
    and h.kpi_id = s.kpi_id and h.grain = s.grain and h.period_start = s.period_start)
"""  # noqa: E501


class NoSnapshot(Exception):
    """Nothing to report for what was asked; the message says how to get it."""


def current_as_of(query: Query, business_id: str) -> dt.date | None:
    frame = query(CURRENT_AS_OF_SQL, [business_id])
    return None if frame.empty else pd.Timestamp(frame.iloc[0, 0]).date()


def _history_as_ofs(query: Query, business_id: str) -> list[dt.date]:
    frame = query(
        "select distinct as_of from snapshots.kpi_snapshot_history where "
        "business_id = ? order by 1",
        [business_id],
    )
    return [pd.Timestamp(v).date() for v in frame.iloc[:, 0]]


def no_snapshot_message(requested: dt.date, available: list[dt.date]) -> str:
    """What to do when the history has no snapshot for ``requested``."""
    have = ", ".join(str(d) for d in available[-5:]) if available else "none"
    more = f" (and {len(available) - 5} earlier)" if len(available) > 5 else ""
    return (
        f"no snapshot as of {requested}: snapshots exist as of {have}{more}.\n"
        f"To see the scorecard as it stood on {requested}, run `kpi sync --as-of {requested}` (it "
        "re-fetches each source's lookback ending that day and records that day's snapshot), then "
        f"`kpi report --as-of {requested}`; a plain `kpi sync` afterwards brings "
        "the current scorecard back."
    )


@contextmanager
def published_snapshots(
    settings: Settings, requested: dt.date | None = None
) -> Iterator[tuple[dt.date, pd.DataFrame, Query]]:
    """(as-of, snapshots, query) from data/analytics.duckdb: the current snapshots, or those the
    history recorded for ``requested``.

    Raises:
        NoSnapshot: no published copy, no snapshot yet, or none for ``requested``.
    """
    path = settings.published_path
    if not path.exists():
        raise NoSnapshot(f"no data yet at {path}: run `kpi sync` first")
    with duckdb.connect(str(path), read_only=True) as con:

        def query(sql: str, params: list[Any]) -> pd.DataFrame:
            return con.execute(sql, params).df()

        tables = set(
            query(
                "select table_schema || '.' || table_name from information_schema.tables", []
            ).iloc[:, 0]
        )
        if "snapshots.kpi_snapshots" not in tables:
            raise NoSnapshot("no snapshots yet: run `kpi sync` first")
        if requested is None:
            as_of = current_as_of(query, settings.business_id)
            if as_of is None:
                raise NoSnapshot("no snapshots yet: run `kpi sync` first")
            snaps = query(
                "select * from snapshots.kpi_snapshots where business_id = ?",
                [settings.business_id],
            )
        else:
            as_of = requested
            snaps = query(PAST_SQL, [settings.business_id, requested] * 2 + [requested])
            if not (pd.to_datetime(snaps["as_of"]).dt.date == requested).any():
                raise NoSnapshot(
                    no_snapshot_message(requested, _history_as_ofs(query, settings.business_id))
                )
        yield as_of, snaps, query


StatusKey = tuple[str, str, dt.date]


def statuses(snaps: pd.DataFrame) -> dict[StatusKey, str]:
    """(kpi, grain, period start) -> status of snapshot rows."""
    return {
        (r.kpi_id, r.grain, pd.Timestamp(r.period_start).date()): r.status
        for r in snaps.itertuples(index=False)
    }


def current_statuses(settings: Settings) -> dict[StatusKey, str]:
    """The statuses in the published copy; empty before the first sync."""
    try:
        with published_snapshots(settings) as (_, snaps, _query):
            return statuses(snaps)
    except (NoSnapshot, duckdb.Error):
        return {}


def status_changes(
    before: dict[StatusKey, str],
    after: dict[StatusKey, str],
    as_of: dt.date,
    week_start: str = "monday",
) -> list[tuple[StatusKey, str, str]]:
    """KPI periods whose status a run changed: the periods holding as-of and those that just closed
    (ended within the last 7 days), in the order week, month, quarter, year."""
    order = {"week": 0, "month": 1, "quarter": 2, "year": 3}
    changed = [
        (key, before[key], status)
        for key, status in after.items()
        if key in before
        and before[key] != status
        and key[2] <= as_of
        and key[2] >= _recent_start(key[1], as_of, week_start)
    ]
    return sorted(changed, key=lambda c: (order.get(c[0][1], 9), c[0][2], c[0][0]))


def _recent_start(grain: str, as_of: dt.date, week_start: str) -> dt.date:
    start = period_start(grain, as_of, week_start)
    # a period that ended within the last 7 days just turned achieved or missed: that is news too
    return previous_start(grain, start, week_start) if (as_of - start).days < 7 else start
