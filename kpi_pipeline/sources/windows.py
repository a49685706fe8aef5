"""Run-time facts every asset needs: as-of, today, the windows a run covers.

``as_of`` (the last complete day) comes from the run tag ``kpi/as_of`` (set by the CLI and
the schedule), else env ``KPI_AS_OF``, else yesterday in the business timezone. ``today``
(the platforms' "now", which decides whether a point-in-time value can be recorded) is the
real date, demo mode included (the sandbox's clock is the wall clock, not the run's as-of, so a
back-dated demo meets the as-of-now streams a real platform has), or env ``KPI_TODAY``: the
platform clock a test or a simulation sets. ``source_settings`` is what a run hands a connector:
its source block's values, or the sandbox's in demo mode.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.http import register_secret
from connectors.registry import streams
from connectors.streams import StreamContext, StreamSpec, Window
from kpi_pipeline.config.settings import ConfigError, Settings
from kpi_pipeline.config.sources import CREDENTIAL_FIELDS

AS_OF_TAG = "kpi/as_of"
WINDOW_TAG = "kpi/window"  # "lookback": each stream re-fetches its own lookback only
# Dagster's own run tags for a run over a range of partitions (what a UI backfill sets)
RANGE_START_TAG, RANGE_END_TAG = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)
PARTITION_TAG = "dagster/partition"
PROGRESS_MARK = (
    "progress: "  # a log line the kpi command prints as it comes (how far a long load is)
)


def parse_date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def resolve_as_of(settings: Settings, tags: Mapping[str, str] | None = None) -> dt.date:
    value = (tags or {}).get(AS_OF_TAG) or os.environ.get("KPI_AS_OF")
    return parse_date(value, "as-of") if value else settings.default_as_of()


def today(settings: Settings, as_of: dt.date | None = None) -> dt.date:
    """The platforms' today, business-local: a run's as-of is not their clock. In demo mode an as-of
    past the clock's yesterday takes the sandbox's world (and so its today) up to it."""
    if os.environ.get("KPI_TODAY"):
        now = parse_date(os.environ["KPI_TODAY"], "KPI_TODAY")
    else:
        now = dt.datetime.now(settings.tz).date()
    if settings.demo and as_of is not None:
        now = max(now, as_of + dt.timedelta(days=1))
    return now


def person_salt(settings: Settings) -> str:
    """The secret salt of person keys: env ``KPI_PERSON_SALT``, else a random one kept in
    ``.person_salt`` beside the warehouse (made once, readable by its owner only). The same
    salt must stay: a new one gives every person a new key. A portfolio's business always has
    its own file: one salt for all would let the portfolio copy match people across businesses."""
    salt = "" if settings.slug else os.environ.get("KPI_PERSON_SALT", "")
    if not salt:
        path = settings.warehouse_path.parent / ".person_salt"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it a moment ago
                fd = None
            if fd is not None:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
        salt = path.read_text().strip()
    register_secret(salt)
    return salt


def stream_context(settings: Settings, as_of: dt.date) -> StreamContext:
    """Point-in-time values stand for as-of only when the platforms' today is as-of + 1."""
    # late: pandas, ~0.35 s of `kpi`'s start-up
    from kpi_pipeline.kpi.calendar import calendar_windows

    now = today(settings, as_of)
    snapshot = as_of if now == as_of + dt.timedelta(days=1) else None
    windows = calendar_windows(settings, as_of)
    ranges = sorted(
        {
            (w.window_kind, w.window_start, w.window_end, bool(w.period_end > as_of))
            for w in windows.itertuples()
            if w.grain != "day"
        }
    )
    return StreamContext(
        settings.timezone,
        as_of,
        snapshot,
        ranges=ranges,
        person_salt=person_salt(settings),
        currency=settings.currency,
        currencies=frozenset({settings.currency, *settings.fx}),
        today=now,
    )


def tag_span(tags: Mapping[str, str]) -> tuple[dt.date, dt.date] | None:
    """The days a run covers by its tags: a partition range, one partition, or None (lookback)."""
    if tags.get(RANGE_START_TAG) and tags.get(RANGE_END_TAG):
        return parse_date(tags[RANGE_START_TAG], "range start"), parse_date(
            tags[RANGE_END_TAG], "range end"
        )
    if tags.get(PARTITION_TAG):
        day = parse_date(tags[PARTITION_TAG], "partition")
        return day, day
    return None


def stream_window(
    settings: Settings,
    spec: StreamSpec,
    as_of: dt.date,
    span: tuple[dt.date, dt.date] | None,
    tags: Mapping[str, Any],
    loaded_until: dt.date | None = None,
) -> Window | None:
    """The window of one stream in a run over the days ``span`` (None:
    its lookback ending at as-of).

    In lookback mode (the nightly run, ``kpi sync`` without dates) a stream re-fetches its own
    lookback ending at the run's day, whatever partition the run is for; and when its last load
    ended before that lookback (``loaded_until``: nights the sync did not run, a server that was
    off for weeks) from the day after it, so the days between are fetched, not left a hole.
    """
    first, last = span or (None, as_of)
    last = min(last, as_of)
    if first is None or tags.get(WINDOW_TAG) == "lookback":
        block = settings.enabled_sources()[spec.source]
        first = spec.lookback_window(last, block.lookback_days).start
        if loaded_until is not None:
            first = min(first, loaded_until + dt.timedelta(days=1))
        first = max(first, settings.history_start)
    if first > last:
        return None
    return Window(first, last)


def max_lookback(settings: Settings, sources: list[str] | None = None) -> int:
    days = 1
    for name, block in settings.enabled_sources().items():
        if sources and name not in sources:
            continue
        for spec in streams(name).values():
            days = max(days, spec.lookback_days, block.lookback_days or 0)
    return days


def source_settings(settings: Settings, source: str, as_of: dt.date) -> dict[str, Any]:
    """A source block as plain values for its connector; the sandbox's in demo mode.

    Raises:
        ConfigError: when a credential is missing (named by its YAML path).
    """
    block = settings.enabled_sources()[source]
    values = {
        k: (v.get_secret_value() if isinstance(v, SecretStr) else v)
        for k, v in block.__dict__.items()
    }
    if source == "manual":  # a local file, the same in demo mode
        # its dates run from history_start to the last day that has happened: a back-dated as-of
        # must not refuse the file a nightly accepts (rows after as-of wait for their period)
        path = Path(values["path"])
        return {
            **values,
            "path": str(path if path.is_absolute() else settings.base_dir / path),
            "kpi_ids": [c.id for c in settings.custom_kpis],
            "history_start": settings.history_start,
            "last_day": max(as_of, today(settings, as_of)),
        }
    if (
        settings.demo
    ):  # the sandbox's world runs to the platforms' yesterday, whatever the run's as-of
        from connectors.sandbox import shared_sandbox  # late: the emulators, ~0.1 s, demo mode only

        clock = today(settings) - dt.timedelta(days=1)
        return {
            **values,
            **shared_sandbox(max(clock, as_of), settings.sandbox_seed).settings_for(source),
        }
    absent = [f for f in CREDENTIAL_FIELDS.get(source, ()) if not values.get(f)]
    if absent:
        raise ConfigError(
            str(settings.config_path),
            [(f"sources.{source}.{f}", "credential not set (see `kpi check`)") for f in absent],
        )
    return values
