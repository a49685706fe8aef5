"""Run one stream for one window: connector pages -> typed Arrow batches -> one range replace."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors.errors import ConfigurationError, FatalError
from connectors.streams import (
    WHOLE_HISTORY_START,
    Page,
    StreamContext,
    StreamSpec,
    Window,
    scrubbed,
)
from kpi_pipeline.warehouse.database import ARROW_TYPES, Warehouse

PROGRESS_EVERY = 2.0  # seconds between two progress lines of one long load


class Progress:
    """Says how far a long load is, at most every ``every`` seconds: rows and requests so far,
    the latest day reached in the window, and the time left at the pace so far."""

    def __init__(
        self,
        say: Callable[[str], None],
        spec: StreamSpec,
        window: Window,
        every: float = PROGRESS_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.say, self.spec, self.window, self.every, self.clock = say, spec, window, every, clock
        self.started = self.last = clock()
        self.reached: dt.date | None = None

    def tick(self, rows: int, requests: int, batch: pa.Table, done: float | None = None) -> None:
        """``done``: the share of a file read so far, which says how far a file is better than its
        dates (a file's rows come in any order)."""
        column = self.spec.date_column
        if column in batch.column_names and batch.num_rows:
            latest = pc.max(batch[column]).as_py()
            if isinstance(latest, dt.date) and (self.reached is None or latest > self.reached):
                self.reached = latest
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        text = f"{self.spec.source}/{self.spec.name}: {rows:,} rows in {requests} requests"
        start, end = self.window.start, self.window.end
        if done is not None:
            text += f", {done:.0%} of the file read"
            if 0 < done < 1:
                text += f", about {math.ceil((now - self.started) * (1 - done) / done)}s left"
        elif self.reached is not None and start <= self.reached < end:
            done = ((self.reached - start).days + 1) / ((end - start).days + 1)
            left = (now - self.started) * (1 - done) / done
            text += (
                f", through {self.reached} of {start}..{end} ({done:.0%}), "
                f"about {math.ceil(left)}s left"
            )
        self.say(text)


@dataclass
class LoadResult:
    """What one stream load did, for metadata and the end-of-sync summary."""

    stream: str
    window: Window | None
    rows: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # a stream of changes: the days its table holds complete after this load
    # (recorded in raw._loads)
    complete: Window | None = None


def _date(value: Any) -> Any:
    return dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _timestamp(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    ts = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


_RECORD = json.JSONEncoder(
    default=str
)  # what json.dumps(r, default=str) writes, without a new encoder per record
_CENTS = decimal.Decimal("0.01")
# one converter per declared type, chosen once per column (a page has thousands of values)
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "DATE": _date,
    "TIMESTAMPTZ": _timestamp,
    "DATE[]": lambda v: [_date(d) for d in v],
    "BIGINT": int,
    "DOUBLE": float,
    "VARCHAR": str,
    "BOOLEAN": lambda v: v,
    "DECIMAL(18,2)": lambda v: decimal.Decimal(str(v)).quantize(_CENTS),
}


def arrow_schema(spec: StreamSpec) -> pa.Schema:
    return pa.schema(
        [
            ("business_id", pa.string()),
            *((c.name, ARROW_TYPES[c.type]) for c in spec.columns),
            ("_account", pa.string()),
            ("_record", pa.string()),
            ("_synced_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def page_to_arrow(
    spec: StreamSpec, page: Page, ctx: StreamContext, business_id: str, synced_at: dt.datetime
) -> pa.Table:
    """Typed columns for one page of records (bulk: one Arrow table per page)."""
    columns: dict[str, list[Any]] = {"business_id": [business_id] * len(page.records)}
    for col in spec.columns:
        convert = CONVERTERS.get(col.type, lambda v: v)
        try:
            columns[col.name] = [
                None if v is None else convert(v)
                for v in col.values(page.records, ctx, page.account)
            ]
        except (TypeError, ValueError, KeyError) as err:
            raise FatalError(
                f"malformed record: column {col.name} ({type(err).__name__}: {err})",
                platform=spec.source,
                stream=spec.name,
            ) from None
    for name in spec.key:
        if any(v is None for v in columns[name]):
            col = next(c for c in spec.columns if c.name == name)
            field = (
                f" (field {col.path or col.name})" if not (col.derive or col.from_account) else ""
            )
            raise FatalError(
                f"a record without its {name}{field}, which the API always sends; "
                "nothing was loaded",
                platform=spec.source,
                stream=spec.name,
                hint="the platform changed its API or answered with a partial record; run the sync "
                "again, and report it if it persists",
            )
    if spec.currency_column and ctx.currencies:
        _check_currencies(spec, columns[spec.currency_column], ctx)
    columns["_account"] = [page.account] * len(page.records)
    columns["_record"] = [_RECORD.encode(scrubbed(r, spec.pii)) for r in page.records]
    columns["_synced_at"] = [synced_at] * len(page.records)
    return pa.table(columns, schema=arrow_schema(spec))


def missing_fields(spec: StreamSpec, columns: list[Any], rows: int) -> Exception:
    """The error of a load where no record has a required metric:
    renamed or dropped by the platform."""
    fields = ", ".join(
        f"{c.path or c.name}" + (f" (column {c.name})" if c.path and c.path != c.name else "")
        for c in columns
    )
    return FatalError(
        f"required field {fields} missing from all {rows:,} records; nothing was loaded",
        platform=spec.source,
        stream=spec.name,
        hint="the platform renamed or dropped the field (a changed API); the stored rows are kept; "
        "report it, a connector update is needed",
    )


def _check_currencies(spec: StreamSpec, values: list[Any], ctx: StreamContext) -> None:
    """Amounts in a currency the business neither keeps nor has a rate for are refused whole."""
    foreign = sorted({str(v).upper() for v in values if v} - ctx.currencies)
    if foreign:
        home = ctx.currency or "the business currency"
        rates = ", ".join(f"{c}: <{home} per {c}>" for c in foreign)
        raise ConfigurationError(
            f"amounts in {', '.join(foreign)}, but the business keeps {home} and kpi.yaml has no "
            f"rate for {'them' if len(foreign) > 1 else 'it'}; nothing was loaded",
            platform=spec.source,
            stream=spec.name,
            hint=f"add `fx: {{{rates}}}` to kpi.yaml, or set currency to the account's",
        )


def load_stream(
    spec: StreamSpec,
    client: Any,
    window: Window,
    ctx: StreamContext,
    warehouse: Warehouse,
    progress: Callable[[str], None] | None = None,
) -> LoadResult:
    """Fetch ``window`` of a stream and replace the key range it really covers (``progress``
    hears how far it is every few seconds of a long load)."""
    started = time.monotonic()
    result = LoadResult(spec.name, None)
    ensure_tables(warehouse, [spec])  # downstream models can run even when nothing was fetchable
    if spec.first_load_all and _first_load(warehouse, spec):
        # e.g. "first successful payment" needs every earlier payment,
        # not only those since history_start
        ctx.warn(
            f"{spec.source}/{spec.name}: first load: fetching the whole history up to {window.end}"
        )
        window = Window(WHOLE_HISTORY_START, window.end)
    replace = spec.replace_range(window, ctx)
    if replace is not None:
        synced_at = dt.datetime.now(dt.timezone.utc)
        before = client.stats.requests, client.stats.retries

        def batches() -> Iterator[pa.Table]:
            told = Progress(progress, spec, replace) if progress is not None else None
            rows = 0
            unseen = [
                c for c in spec.columns if c.required
            ]  # required metrics no record has had yet
            for page in spec.fetch(client, replace, ctx):
                if page.records:
                    batch = page_to_arrow(spec, page, ctx, warehouse.business_id, synced_at)
                    rows += batch.num_rows
                    unseen = [c for c in unseen if batch[c.name].null_count == batch.num_rows]
                    if told is not None:
                        told.tick(rows, client.stats.requests - before[0], batch, page.done)
                    yield batch
            if rows and unseen:  # raised before the replace commits: the stored rows stay
                raise missing_fields(spec, unseen, rows)

        def recorded(con: Any, rows: int) -> None:  # in the load's own transaction
            result.rows, result.window = rows, replace
            result.requests = client.stats.requests - before[0]
            result.retries = client.stats.retries - before[1]
            record_load(warehouse, spec, result, ctx, con)

        columns = [(c.name, c.type) for c in spec.columns]
        if spec.kind == "changes":  # an old record that changed replaces its earlier self
            warehouse.upsert_by_key(
                spec.table,
                columns,
                spec.key,
                batches(),
                on_commit=recorded,
                whole=replace.start == WHOLE_HISTORY_START,
            )
        else:
            warehouse.replace_range(
                spec.table,
                columns,
                spec.key,
                spec.date_column,
                replace.start,
                replace.end,
                batches(),
                on_commit=recorded,
            )
    result.warnings = list(ctx.warnings)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _first_load(warehouse: Warehouse, spec: StreamSpec) -> bool:
    """Whether the stream's table has nothing of the business yet; for a stream of changes, also
    when rows lack their modification date (loaded before the stream was fetched by changes,
    which may have missed later changes of old records: fetched again once, whole)."""
    rows, dated = warehouse.query(
        f"select count(*), count({spec.date_column}) from raw.{spec.table} where business_id = ?",
        [warehouse.business_id],
    )[0]
    return rows == 0 or (spec.kind == "changes" and dated < rows)


def complete_span(con: Any, business_id: str, spec: StreamSpec, window: Window) -> Window:
    """The days a stream of changes holds complete once ``window`` is loaded: a fetch of every
    record modified since the window's start completes its days, and the days of an earlier
    complete span that reaches the day before (nothing changed between them went unseen). A
    change is dated by when it happened (a lead date, a close date), so a gap of missed nights
    leaves only its own days incomplete."""
    row = con.execute(
        "select min(window_start) from raw._loads where business_id = ? and source = ? "
        "and stream = ? and window_start <= ? and window_end >= ?",
        [business_id, spec.source, spec.name, window.start, window.start - dt.timedelta(days=1)],
    ).fetchone()
    return Window(row[0] if row and row[0] else window.start, window.end)


def ensure_tables(warehouse: Warehouse, specs: list[StreamSpec]) -> None:
    """Create the raw tables of these streams (empty) where they do not exist yet."""
    with warehouse.writer() as con:
        for spec in specs:
            warehouse.ensure_raw_table(
                con, spec.table, [(c.name, c.type) for c in spec.columns], spec.key
            )


def record_load(
    warehouse: Warehouse, spec: StreamSpec, result: LoadResult, ctx: StreamContext, con: Any = None
) -> None:
    """Append to raw._loads: which range of which stream was loaded, as of when (on ``con``, inside
    the load's transaction, when given). For a stream of changes the range is the span of days the
    load leaves complete (see :func:`complete_span`), so coverage reads whole days either way."""
    assert result.window is not None
    if con is None:
        with warehouse.writer() as own:
            record_load(warehouse, spec, result, ctx, own)
        return
    con.execute(
        "create table if not exists raw._loads (business_id varchar, source varchar, stream "
        "varchar, window_start date, window_end date, as_of date, rows bigint, requests bigint, "
        "loaded_at timestamptz)"
    )
    span = result.window
    if spec.kind == "changes":  # the days left complete, not only those whose records changed
        span = result.complete = complete_span(con, warehouse.business_id, spec, result.window)
    con.execute(
        "insert into raw._loads values (?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            warehouse.business_id,
            spec.source,
            spec.name,
            span.start,
            span.end,
            ctx.as_of,
            result.rows,
            result.requests,
        ],
    )
