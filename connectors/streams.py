"""Declarative stream specs: what a stream lands, how it is keyed, how far back it reaches.

A platform module declares ``StreamSpec`` objects and one ``fetch`` generator per stream
that yields :class:`Page` objects. The runner (``kpi_pipeline``) turns pages into typed
columns and writes them; connectors never write.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from connectors.http import CallStats
from connectors.pagination import dig

WHOLE_HISTORY_START = dt.date(
    2000, 1, 1
)  # a first load fetches from here: the platform's whole history


@dataclass(frozen=True)
class Window:
    """An inclusive range of business-local dates."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"window start {self.start} is after its end {self.end}")

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"


@dataclass
class StreamContext:
    """What a fetch needs to know besides the window.

    Attributes:
        timezone: the business timezone; all dates are business-local.
        as_of: the last complete day.
        snapshot_date: the date a point-in-time value fetched now stands for, or None
            when "now" is not the end of ``as_of`` (a past as_of cannot be snapshotted).
    """

    timezone: str
    as_of: dt.date
    snapshot_date: dt.date | None
    stats: CallStats = field(default_factory=CallStats)
    warnings: list[str] = field(default_factory=list)
    # (window kind, first day, last day, period still open) of every week..year period up to
    # as-of and its like-for-like comparison windows: the exact ranges unique counts need
    ranges: list[tuple[str, dt.date, dt.date, bool]] = field(default_factory=list)
    # the secret salt of person_key: the same person on every platform, never their address
    person_salt: str = field(default="", repr=False)
    # currencies amounts may be in: the business currency and those kpi.yaml gives a rate for
    # (empty: not checked); other amounts are refused, never added up silently
    currencies: frozenset[str] = frozenset()
    currency: str = ""  # the business currency
    # the platforms' today (business-local): how far back a platform still serves data counts from
    # it, not from as-of (a sync back-dated by a day asks no more than the platform keeps)
    today: dt.date | None = None

    def person_key(self, email: Any) -> str | None:
        """A salted hash of a normalised e-mail (trimmed, lower case), or None without one."""
        if not isinstance(email, str) or not email.strip():
            return None
        if not self.person_salt:
            raise ValueError(
                "no person salt: person keys need one (see "
                "kpi_pipeline.sources.windows.person_salt)"
            )
        return hmac.new(
            self.person_salt.encode(), email.strip().lower().encode(), hashlib.sha256
        ).hexdigest()[:32]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_date(self, timestamp: str | dt.datetime) -> dt.date:
        """Business-local date of an ISO timestamp (UTC when it has no offset)."""
        ts = (
            dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
            if isinstance(timestamp, str)
            else timestamp
        )
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.timezone.utc)
        return ts.astimezone(self.tz).date()

    def local_start(self, day: dt.date) -> dt.datetime:
        """Start of a business-local day as an aware UTC datetime."""
        return dt.datetime.combine(day, dt.time(), self.tz).astimezone(dt.timezone.utc)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@dataclass
class Page:
    """One page of API records, all from one account (list, property, ad account...)."""

    records: list[dict[str, Any]]
    account: str
    done: float | None = (
        None  # a file read in pages: the share of it read so far (0..1), for progress
    )


def scrubbed(record: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``record`` without the personal fields at ``paths`` (dotted):
    what `_record` keeps."""
    if not paths:
        return record
    out = copy.deepcopy(record)
    for path in paths:
        *parents, leaf = path.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return out


def person_column(path: str, name: str = "person_key") -> Column:
    """The salted person key of the e-mail at ``path`` (declare ``path`` in the spec's ``pii``)."""
    return Column(name, "VARCHAR", derive=lambda r, ctx: ctx.person_key(dig(r, path.split("."))))


@dataclass(frozen=True)
class Column:
    """A typed column of a raw table, read from the record by dotted path or derived.

    ``required``: a metric the platform sends in every record (as 0 when there was none). A load
    where no record has it is refused, naming the field: the platform renamed or dropped it
    (Meta ``spend`` -> ``amount_spent``), and NULLs would pass for a complete load.
    """

    name: str
    type: str
    path: str | None = None
    derive: Callable[[dict[str, Any], StreamContext], Any] | None = None
    from_account: bool = False
    required: bool = False

    def values(
        self, records: list[dict[str, Any]], ctx: StreamContext, account: str = ""
    ) -> list[Any]:
        """``value`` of each record (a page at a time: the path is split once, a top-level field
        read straight from the dict)."""
        if self.from_account:
            return [account] * len(records)
        if self.derive is not None:
            return [self.derive(r, ctx) for r in records]
        steps = (self.path or self.name).split(".")
        if len(steps) == 1:
            name = steps[0]
            found = [r.get(name) if type(r) is dict else dig(r, steps) for r in records]
        else:
            found = [dig(r, steps) for r in records]
        return [None if v == "" else v for v in found]


Kind = Literal["daily", "monthly", "snapshot", "as_of", "file", "changes"]


@dataclass(frozen=True)
class StreamSpec:
    """A stream: its raw table's key, columns, date key, lookback and history limit.

    Attributes:
        kind: ``daily`` (one date key per record), ``monthly`` (key is the month's first
            day), ``snapshot`` (a point-in-time value, only obtainable "now") or ``as_of``
            (figures computed for one as-of day, obtainable for any as-of) or ``changes``
            (records that change long after they were made, e.g. a CRM contact who becomes a
            lead months later: fetched by last modification, each load upserting by key; its
            ``date_column`` is the day of last modification).
        lookback_days: the recent days the platform still restates; re-fetched every run.
        history_days: how far back the platform keeps the data (None: all of it).
    """

    source: str
    name: str
    description: str
    key: tuple[str, ...]
    date_column: str
    columns: tuple[Column, ...]
    fetch: Callable[[Any, Window, StreamContext], Iterator[Page]]
    kind: Kind = "daily"
    lookback_days: int = 7
    history_days: int | None = None
    history_note: str = ""
    future_days: int = 0  # also (re)fetch this many days after the window (bookings ahead)
    first_load_all: bool = False  # the first load fetches the platform's whole history
    currency_column: str | None = None  # the column naming the currency of the stream's amounts
    pii: tuple[
        str, ...
    ] = ()  # dotted paths of personal data (e-mails): hashed into columns, never stored
    # the stream lists events (payments, meetings, campaigns, ad delivery): a day it loaded without
    # a record had none, so the source *covers* that day and its counts are 0 there, not unknown
    events: bool = False
    # a better input where it has data, never the only one (Instagram's 30-day follower_count beside
    # the daily totals): a KPI's coverage does not wait for it
    supplementary: bool = False

    @property
    def table(self) -> str:
        return f"{self.source}__{self.name}"

    @property
    def daily(self) -> bool:
        """Whether daily partitions tell the truth about this stream: it returns its data by day, so
        a day is loaded or not. Point-in-time values (``snapshot``), month keys, the whole file and
        streams whose first load takes the platform's whole history are one table, not hundreds of
        days filled by one row (docs/ARCHITECTURE.md#partitions-fit-the-data)."""
        return self.kind in ("daily", "as_of") and not self.first_load_all

    def describe_window(self, window: Window) -> str:
        """What a load really covered, in words for the UI and the sync summary."""
        if self.kind == "file":
            return "the whole file"
        if self.kind == "snapshot":
            return f"as of {window.end}"
        end = window.end - dt.timedelta(days=self.future_days)
        ahead = f" (+ {self.future_days} days ahead)" if self.future_days else ""
        if window.start == WHOLE_HISTORY_START:
            return f"whole history through {end}{ahead}"
        if self.kind == "changes":
            return f"changes since {window.start} (as-of {end})"
        return f"{window.start}..{end}{ahead}"

    def replace_range(self, window: Window, ctx: StreamContext) -> Window | None:
        """The key range a fetch of ``window`` really covers, hence may replace.

        Dates the platform no longer serves are left out (and reported), so a backfill never
        deletes history it cannot fetch again.
        """
        if self.kind == "snapshot":
            if ctx.snapshot_date is None or not window.start <= ctx.snapshot_date <= window.end:
                ctx.warn(
                    f"{self.source}/{self.name}: the platform only reports this as of now "
                    f"({self.history_note or 'no history is kept'}); nothing fetched for {window}"
                )
                return None
            if window.start < ctx.snapshot_date:
                ctx.warn(
                    f"{self.source}/{self.name}: only {ctx.snapshot_date} can be recorded; "
                    f"{window.start}..{ctx.snapshot_date - dt.timedelta(days=1)} keep what they "
                    f"had ({self.history_note or 'the platform keeps no history'})"
                )
            return Window(ctx.snapshot_date, ctx.snapshot_date)
        if self.kind == "file":  # the whole file is the truth: replace all it ever loaded
            return Window(dt.date(1900, 1, 1), dt.date(2999, 12, 31))
        if self.kind == "as_of":
            return Window(ctx.as_of, ctx.as_of) if window.start <= ctx.as_of <= window.end else None
        start = window.start
        if self.kind == "monthly":
            start = start.replace(day=1)
        if self.history_days is not None:
            latest = (
                ctx.today - dt.timedelta(days=1) if ctx.today else ctx.as_of
            )  # the platform's yesterday
            oldest = latest - dt.timedelta(days=self.history_days - 1)
            if window.end < oldest:
                ctx.warn(
                    f"{self.source}/{self.name}: {self.history_note}; {window} is older than "
                    f"{oldest} and cannot be fetched; existing rows are kept"
                )
                return None
            if start < oldest:
                ctx.warn(
                    f"{self.source}/{self.name}: {self.history_note}; "
                    f"{start}..{oldest - dt.timedelta(days=1)} cannot be fetched "
                    "and keeps what it had"
                )
                start = oldest
        return Window(start, window.end + dt.timedelta(days=self.future_days))

    def lookback_window(self, as_of: dt.date, lookback_days: int | None = None) -> Window:
        """The window a routine sync re-fetches: the lookback ending at ``as_of``."""
        days = max(self.lookback_days, lookback_days or 0)
        return Window(as_of - dt.timedelta(days=days - 1), as_of)
