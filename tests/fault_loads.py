"""What the fault tests share (tests/test_faults.py, tests/test_fault_cases.py): each emulated
platform's target stream as its emulator declares it (FAULT_TARGETS), and loads of it into a
warehouse that already holds an older load, the table read back as the test compares it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.registry import SOURCES
from connectors.sandbox import emulator_modules
from kpi_pipeline.sources.windows import stream_context
from kpi_pipeline.warehouse.database import Warehouse
from kpi_pipeline.warehouse.loading import load_stream
from tests.conftest import AS_OF
from tests.connector_runs import SETTINGS, content, make_client


@dataclass(frozen=True)
class Target:
    """The stream of a connector the fault tests load, where its data requests and records are, and
    how its answers look when they go wrong (the keys: connectors/sandbox/faults.py)."""

    source: str
    stream: str
    path: str  # regex of the data requests (not token or list lookups)
    records: Callable[[Any], list[dict]] | None = (
        None  # the records in a response body, for schema drift
    )
    typed_field: str = ""  # a numeric field of a record, for a changed type
    key_field: str = ""  # the field of the record's key, for a missing field
    expired: dict[str, Any] | None = (
        None  # how the platform says a credential expired (default: a 401)
    )
    empty: Callable[[Any, Any], Any] | None = (
        None  # (body, request) -> its answer for a window without data
    )
    throttled: dict[str, str] = field(
        default_factory=dict
    )  # the headers of its 429 without Retry-After
    renamed: tuple[Callable[[Any, Any], Any], str] | None = (
        None  # (rewrite renaming a field, the field named)
    )
    empty_page: dict[str, Any] | None = (
        None  # inject() arguments: a page mid-paging without its records
    )
    onwards: Callable[[Any, Any, str], None] | None = (
        None  # (body, request, base URL): its cursor onwards
    )


# every platform with an emulator, as its emulator declares it (FAULT_TARGETS)
TARGETS = {
    source: Target(source, **spec)
    for module in emulator_modules().values()
    for source, spec in module.FAULT_TARGETS.items()
}


def load(sandbox, target: Target, policy, wh: Warehouse):
    spec = SOURCES[target.source][1][target.stream]
    ctx = stream_context(SETTINGS, AS_OF)
    ctx.snapshot_date = AS_OF
    client = make_client(sandbox, target.source, policy)
    return spec, load_stream(spec, client, spec.lookback_window(AS_OF), ctx, wh)


_BEFORE: dict[str, Any] = {}


def before_state(sandbox, target, policy) -> tuple[Warehouse, list]:
    """A warehouse holding an older load of the stream: every row marked, so a change shows.
    (Loaded once per connector, then copied: a first load of every HubSpot contact takes a
    while.)"""
    spec = SOURCES[target.source][1][target.stream]
    if target.source not in _BEFORE:
        assert not sandbox.servers[target.source].faults, (
            "load the clean 'before' state before injecting a fault"
        )
        wh = Warehouse(":memory:", "contract")
        load(sandbox, target, policy, wh)
        with wh.writer() as con:
            con.execute(f"update raw.{spec.table} set _record = json_object('before', true)")
            _BEFORE[target.source] = con.sql(f"select * from raw.{spec.table}").to_arrow_table()
    wh = Warehouse(":memory:", "contract")
    with wh.writer() as con:
        wh.ensure_raw_table(con, spec.table, [(c.name, c.type) for c in spec.columns], spec.key)
        frozen = _BEFORE[target.source]  # noqa: F841 - DuckDB reads the Arrow table by its name
        con.execute(f"insert into raw.{spec.table} by name select * from frozen")
    return wh, content(wh, spec)


_EXPECTED: dict[str, list] = {}


def clean_load(sandbox, target, policy) -> list:
    """What a load without a fault makes of the 'before' warehouse."""
    if target.source not in _EXPECTED:
        assert not sandbox.servers[target.source].faults, (
            "compute the clean expectation before injecting a fault"
        )
        wh, _ = before_state(sandbox, target, policy)
        spec, _ = load(sandbox, target, policy, wh)
        _EXPECTED[target.source] = content(wh, spec)
    return _EXPECTED[target.source]
