"""The analysts' portfolio copy: ``<root>/data/portfolio_analytics.duckdb``, every business's
published tables in one file with ``business_id`` on every row, plus ``portfolio.businesses`` (who,
currency, as-of).

Built from each business's published ``analytics.duckdb``, attached read-only (a running sync is
never blocked or touched), into a temp file flushed to the disk and renamed over the last copy; an
analyst's writes to the last copy (a ``.wal``, or a file changed since it was written) are kept
aside first, as for a business's published copy (:mod:`kpi_pipeline.warehouse.published`). Money
stays in each business's currency (``portfolio.businesses.currency``):
nothing here adds amounts across them.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kpi_pipeline.config.settings import Settings
from kpi_pipeline.portfolio.businesses import portfolio_copy_path
from kpi_pipeline.warehouse.analyst_file import describe, new_copy
from kpi_pipeline.warehouse.published import (
    PublishedInUse,
    keep_analyst_writes,
    record_published,
    sync_folder,
    wal_of,
)
from kpi_pipeline.warehouse.statements import count_of


@dataclass
class CopyResult:
    path: Path
    included: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # slug -> why it is not in the copy
    tables: int = 0
    notes: list[str] = field(
        default_factory=list
    )  # an analyst's writes kept aside, or why nothing was written


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_portfolio_copy(
    root: Path, settings: dict[str, Settings], broken: dict[str, str]
) -> CopyResult:
    """Write the portfolio copy from the businesses in ``settings``; ``broken``:
    slug -> why it is left out."""
    target = portfolio_copy_path(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    result = CopyResult(target, missing=dict(broken))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        # in the storage version analysts' DuckDB reads, table by table through a bounded memory
        # (DuckDB spills beyond it): the copy of 100 businesses took 1.7 GB unbounded
        # (bench/RESULTS.md, "Portfolio scale")
        with new_copy(tmp) as con:
            con.execute("set preserve_insertion_order = false")
            columns: dict[
                tuple[str, str], list[str]
            ] = {}  # (schema, table) -> attached aliases holding it
            for slug, business in sorted(settings.items()):
                published = business.published_path
                if not published.exists():
                    result.missing[slug] = "no published copy yet (never synced)"
                    continue
                alias = f"b_{slug}"
                try:
                    con.execute(
                        f"attach {_sql_text(str(published))} as {_quote(alias)} (read_only)"
                    )
                except (
                    duckdb.Error
                ) as err:  # a damaged copy leaves that business out, not the portfolio
                    result.missing[slug] = (
                        f"its published copy cannot be read: {str(err).splitlines()[0]}"
                    )
                    continue
                for schema, table in con.execute(
                    "select schema_name, table_name from duckdb_tables() where database_name = ?",
                    [alias],
                ).fetchall():
                    columns.setdefault((schema, table), []).append(alias)
                result.included.append(slug)
            for schema in sorted({s for s, _ in columns}):
                con.execute(f"create schema if not exists {_quote(schema)}")
            for (schema, table), aliases in sorted(columns.items()):
                parts = [
                    "select ? as business_id, * exclude (business_id) from "
                    f"{_quote(a)}.{_quote(schema)}.{_quote(table)}"
                    if _has_business_id(con, a, schema, table)
                    else "select ? as business_id, * from "
                    f"{_quote(a)}.{_quote(schema)}.{_quote(table)}"
                    for a in aliases
                ]
                con.execute(
                    f"create table {_quote(schema)}.{_quote(table)} as "
                    + " union all by name ".join(parts),
                    [a.removeprefix("b_") for a in aliases],
                )
                result.tables += 1
            _businesses_table(con, settings, result)
            for alias in {a for aliases in columns.values() for a in aliases}:
                con.execute(f"detach {_quote(alias)}")
            describe(con)  # the same views and comments as a business's copy
        _replace(tmp, target, result)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def _replace(tmp: Path, target: Path, result: CopyResult) -> None:
    """Put the finished ``tmp`` in place of ``target`` durably,
    keeping an analyst's writes aside."""
    with open(
        tmp, "rb"
    ) as written:  # on the disk before its name is (a power cut after the rename)
        os.fsync(written.fileno())
    try:
        kept = keep_analyst_writes(target)
    except PublishedInUse as err:
        result.notes.append(f"the portfolio copy was not written: {err}")
        return
    record_published(target, coming=tmp)
    os.replace(tmp, target)
    sync_folder(target.parent)
    record_published(target)
    if kept is not None:
        log = f" (with {kept.name}.wal)" if wal_of(kept).exists() else ""
        result.notes.append(
            f"an analyst had written to {target.name} (it is read-only for analysts): kept their "
            f"file in {kept}{log}; it opens with their tables"
        )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _has_business_id(con: duckdb.DuckDBPyConnection, alias: str, schema: str, table: str) -> bool:
    return bool(
        count_of(
            con,
            "select count(*) from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? and column_name = 'business_id'",
            [alias, schema, table],
        )
    )


def _businesses_table(
    con: duckdb.DuckDBPyConnection, settings: dict[str, Settings], result: CopyResult
) -> None:
    con.execute("create schema if not exists portfolio")
    con.execute(
        "create table portfolio.businesses (business_id varchar, business varchar, timezone "
        "varchar, currency varchar, sources varchar[], in_copy boolean, note varchar, "
        "copied_at timestamptz)"
    )
    now = dt.datetime.now(dt.timezone.utc)
    rows: list[
        tuple[str, str | None, str | None, str | None, list[str], bool, str | None, dt.datetime]
    ]
    rows = [
        (
            slug,
            s.business,
            s.timezone,
            s.currency,
            list(s.enabled_sources()),
            slug in result.included,
            result.missing.get(slug),
            now,
        )
        for slug, s in sorted(settings.items())
    ]
    rows += [
        (slug, None, None, None, [], False, why, now)
        for slug, why in sorted(result.missing.items())
        if slug not in settings
    ]
    if rows:
        con.executemany("insert into portfolio.businesses values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
