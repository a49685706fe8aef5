"""Which raw streams each KPI reads: its lineage through the SQL models.

The rule it serves: README.md#what-the-numbers-mean, "Coverage is per input".

The KPI models name each KPI by a string literal in one branch of a ``union all``
(``select business_id, 'email_open_rate' as kpi_id, send_date as day, ... from
stg_mailchimp__campaigns``): ``kpis.kpi_daily`` and ``kpis.kpi_ranges`` are generated that way
from each KPI's formula in the catalog (:mod:`kpi_pipeline.sql.kpi_sql`), one branch per part and
dimension. A KPI's inputs are the tables its branches read, their CTEs followed inside the model
and upstream models followed down to ``raw.<source>__<stream>``. So a failed invitees stream does
not blank intro calls, which read only scheduled events, and a back-dated run that cannot record
Mailchimp's membership still scores the open rate. A KPI no branch names (none today) falls back to
every stream of its sources; a ``denominator_kpi`` adds the lineage of that level.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from connectors.registry import streams
from kpi_pipeline.kpi.catalog import sql_dir
from kpi_pipeline.sql.models import (
    PYTHON_TABLES,
    Model,
    ParseCache,
    all_raw_tables,
    load_models,
    raw_inputs,
)

LINEAGE_FILE = "kpi-lineage.json"


def _branches(node) -> list:
    """The selects of a (nested) ``union all``, left to right."""
    from sqlglot import exp  # late: sqlglot (see models.find_tables)

    if isinstance(node, exp.Union):
        return _branches(node.left) + _branches(node.right)
    return [node]


def _kpi_branches(sql: str) -> list[tuple[str, object, dict[str, object]]]:
    """(kpi id, branch select, the model's CTEs) for every branch naming its KPI by a literal."""
    # late: sqlglot, ~0.2 s (see models.find_tables): coverage, so the definitions, import lineage
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name: cte.this for cte in tree.find_all(exp.CTE)}
    found: list[tuple[str, object, dict[str, object]]] = []
    for union in tree.find_all(exp.Union):
        if isinstance(union.parent, exp.Union):
            continue  # the outermost union of a chain lists every branch
        branches = _branches(union)
        first = branches[0]
        if not isinstance(first, exp.Select):
            continue
        names = [e.alias_or_name for e in first.selects]
        if "kpi_id" not in names:
            continue
        position = names.index("kpi_id")
        for branch in branches:
            if not isinstance(branch, exp.Select) or len(branch.selects) <= position:
                continue
            value = branch.selects[position]
            value = value.this if isinstance(value, exp.Alias) else value
            if isinstance(value, exp.Literal) and value.is_string:
                found.append((value.this, branch, ctes))
    return found


def _tables(
    node, ctes: dict[str, object], upstream: dict[str, frozenset[str]], seen: frozenset[str]
) -> set[str]:
    """Raw tables a select reads, its CTEs and upstream models followed."""
    from sqlglot import exp  # late: sqlglot (see _kpi_branches)

    out: set[str] = set()
    for table in node.find_all(exp.Table):
        if not table.db:
            if table.name in ctes and table.name not in seen:
                out |= _tables(ctes[table.name], ctes, upstream, seen | {table.name})
            continue
        full = f"{table.db}.{table.name}"
        out |= {full} if table.db == "raw" else set(upstream.get(full, ()))
    return out


def kpi_raw_tables(models: list[Model]) -> dict[str, frozenset[str]]:
    """Per KPI id named in the models, the raw tables (``raw.<source>__<stream>``) it reads."""
    upstream = raw_inputs(models)
    out: dict[str, set[str]] = {}
    for model in models:
        if "'" not in model.sql or "kpi_id" not in model.sql:
            continue
        for kpi_id, branch, ctes in _kpi_branches(model.sql):
            out.setdefault(kpi_id, set()).update(_tables(branch, ctes, upstream, frozenset()))
    return {k: frozenset(v) for k, v in out.items()}


def builtin_lineage() -> dict[str, frozenset[str]]:
    """Lineage of the models of :func:`~kpi_pipeline.kpi.catalog.sql_dir`
    (parsed once per folder)."""
    return _lineage_of(sql_dir())


@lru_cache(maxsize=4)
def _lineage_of(folder: Path) -> dict[str, frozenset[str]]:
    # parsing the KPI models' branches is 0.2-0.7 s of every run's coverage: remembered by the
    # models' text, as their dependencies are (models.ParseCache)
    models = load_models([*all_raw_tables(), *PYTHON_TABLES], folder)
    cache = ParseCache(LINEAGE_FILE)
    text = "".join(f"-- {m.table}\n{m.sql}\n" for m in sorted(models, key=lambda m: m.table))
    found = cache.remembered(
        text, lambda: {k: sorted(v) for k, v in kpi_raw_tables(models).items()}
    )
    cache.save()
    return {k: frozenset(v) for k, v in found.items()}


def kpi_streams(
    kpis,
    enabled: Iterable[str],
    lineage: dict[str, frozenset[str]] | None = None,
) -> dict[str, tuple[tuple[str, str], ...]]:
    """Per KPI, the (source, stream) pairs of enabled sources it reads, in a stable order.

    Args:
        kpis: the configuration's KPIs (:meth:`Settings.kpis`).
        enabled: the enabled sources (an ad KPI of Meta and Google Ads reads the enabled ones).
    """
    lineage = builtin_lineage() if lineage is None else lineage
    enabled = set(enabled)
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for kpi in kpis:
        if "manual" in kpi.sources:  # a custom KPI: the CSV, covered through its own last date
            out[kpi.id] = (("manual", "metrics"),)
            continue
        tables = set(lineage.get(kpi.id, ()))
        if kpi.denominator_kpi:
            tables |= lineage.get(kpi.denominator_kpi, frozenset())
        if not tables:  # not named by any model: every stream of its sources
            tables = {f"raw.{s}__{n}" for s in kpi.sources for n in streams(s)}
        pairs = set()
        for table in tables:
            source, _, stream = table.removeprefix("raw.").partition("__")
            if source in enabled and source in kpi.sources:
                pairs.add((source, stream))
        out[kpi.id] = tuple(sorted(pairs))
    return out
