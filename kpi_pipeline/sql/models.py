"""SQL models: one SELECT per file under dbt_like_sql/<schema>/<table>.sql and each platform's
connectors/<platform>/staging/<table>.sql, and ``kpis.kpi_daily``
and ``kpis.kpi_ranges`` generated from the KPIs' formulas in kpis/catalog.yml
(:mod:`kpi_pipeline.sql.kpi_sql`).

Dependencies are discovered by parsing (sqlglot), never listed by hand: for every scope of
the query, tables read from are collected, skipping the scope's CTE names (a plain
``find_all(exp.Table)`` would count CTEs as tables). An unknown table fails at load time with
its file and line; a cycle fails naming the whole cycle.

Parsing every model costs about a second, paid by every process that loads the definitions
(the UI, each run, each test), so what a file's text parses to is kept in a small cache keyed by
the text's hash and sqlglot's version (``$KPI_CACHE_DIR``, default ``~/.cache/kpi-pipeline``):
an edited file is parsed again, an unchanged one is not.
"""

from __future__ import annotations

import graphlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from connectors.registry import platforms, streams
from kpi_pipeline.kpi.catalog import (
    SQL_DIR as SQL_DIR,
)  # the shipped models' folder, for callers of models
from kpi_pipeline.kpi.catalog import (
    KpiDef,
    catalog_file,
    full_catalog,
    load_catalog,
)
from kpi_pipeline.kpi.catalog import (
    sql_dir as default_sql_dir,
)
from kpi_pipeline.sql import kpi_sql
from kpi_pipeline.sql.checks import ModelChecks, load_checks

# tables written from Python, not by a model file: models may read them
PYTHON_TABLES = ("kpis.catalog", "kpis.calendar_windows", "kpis.parameters", "kpis.coverage")
# models every business builds, whatever its sources: the snapshots read them and analysts query
# kpis.kpi_values (docs/ARCHITECTURE.md#a-business-runs-only-its-own-models)
ALWAYS = ("kpis.kpi_values", "kpis.kpi_window_values")
CACHE_FILE = "sql-dependencies.json"
CACHE_ENTRIES = 2000  # texts remembered: every version of every model a few times over


class ModelError(ValueError):
    """A model file is wrong: unparsable, unknown table, or part of a cycle."""


@dataclass(frozen=True)
class Model:
    table: str  # schema.name
    path: Path
    sql: str
    deps: frozenset[str]
    checks: ModelChecks = field(default_factory=ModelChecks)  # declared in the folder's checks.yml

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.table.split(".", 1)[1]

    @property
    def description(self) -> str:
        """The header comment: the model's grain, in words."""
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line.lstrip("- ").rstrip())
        return " ".join(lines)


def find_tables(sql: str) -> set[str]:
    """Schema-qualified tables a SELECT reads, CTE names excluded (scope-aware)."""
    # late: sqlglot, ~0.2 s of every load of the definitions, which need it only for a model
    # whose parse is not cached
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.scope import traverse_scope

    tree = sqlglot.parse_one(sql, read="duckdb")
    found: set[str] = set()
    for scope in traverse_scope(tree):
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and source.name not in scope.cte_sources:
                found.add(f"{source.db}.{source.name}" if source.db else source.name)
    # tables inside subqueries of expressions that have no scope of their own
    for table in tree.find_all(exp.Table):
        if table.db:
            found.add(f"{table.db}.{table.name}")
    return found


def cache_dir() -> Path:
    base = os.environ.get("KPI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "kpi-pipeline",
    )
    return Path(base)


class ParseCache:
    """What SQL texts parse to, by the text's sha256 and sqlglot's version (see the module), in
    ``file`` of :func:`cache_dir`: the tables each model reads, or (:mod:`kpi_pipeline.kpi.lineage`)
    the raw tables each KPI reads."""

    def __init__(self, file: str = CACHE_FILE) -> None:
        self.path = cache_dir() / file
        self.parser = f"sqlglot {version('sqlglot')}"
        try:
            saved = json.loads(self.path.read_text())
            self.known = saved["tables"] if saved.get("parser") == self.parser else {}
        except (OSError, ValueError, KeyError, TypeError):
            self.known = {}  # no cache, or one that cannot be read: parse
        self.changed = False

    def tables(self, sql: str) -> set[str]:
        return set(self.remembered(sql, lambda: sorted(find_tables(sql))))

    def remembered(self, text: str, parse: Callable[[], Any]) -> Any:
        """What ``parse`` gives for ``text`` (JSON: a list or a dict),
        parsed only the first time."""
        digest = hashlib.sha256(text.encode()).hexdigest()
        found = self.known.get(digest)
        if not isinstance(found, (list, dict)):
            found = parse()
            self.known[digest] = found
            self.changed = True
        return found

    def save(self) -> None:
        """Write the cache atomically (the newest CACHE_ENTRIES texts); a cache that cannot be
        written costs time, never the load."""
        if not self.changed:
            return
        kept = dict(list(self.known.items())[-CACHE_ENTRIES:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temp.write_text(json.dumps({"parser": self.parser, "tables": kept}))
            os.replace(temp, self.path)
        except OSError:
            pass


def _line_of(sql: str, table: str) -> int:
    match = re.search(re.escape(table), sql, flags=re.IGNORECASE)
    return sql.count("\n", 0, match.start()) + 1 if match else 1


def platform_folders() -> list[Path]:
    """The folders of models each platform package brings (its ``staging/``), in list order."""
    return [p.staging for p in platforms().values() if p.staging.is_dir()]


def _sources(
    sql_dir: Path, folders: list[Path], with_platforms: bool, kpis: Iterable[KpiDef] | None
):
    """(table, file, SQL) of every model: the files (the platforms' first, then the models
    folder's), then those generated from the catalog (from ``kpis`` when given, else from every
    KPI of the catalog and the platforms' ``kpis.yml``, the CSV's custom KPIs included)."""
    paths = [path for folder in folders for path in sorted(folder.glob("*.sql"))]
    for path in [*paths, *sorted(sql_dir.glob("*/*.sql"))]:
        yield f"{path.parent.name}.{path.stem}", path, path.read_text()
    catalog = catalog_file(sql_dir)
    if not catalog.exists():
        return
    if kpis is None:
        kpis, custom = (full_catalog(catalog) if with_platforms else load_catalog(catalog)), True
    else:
        kpis = list(kpis)
        custom = any("manual" in k.sources for k in kpis)
    for table in kpi_sql.TABLES:
        schema, name = table.split(".")
        if (sql_dir / schema / f"{name}.sql").exists():
            raise ModelError(
                f"{sql_dir / schema / name}.sql: {table} is generated from {catalog}; "
                "declare a KPI's formula in its catalog entry (`daily:`, `ranges:`) instead"
            )
        try:
            sql = kpi_sql.model_sql(kpis, table, custom=custom)
        except ValueError as err:
            raise ModelError(f"{catalog}: {err}") from None
        yield table, catalog, sql


def load_models(
    external: Iterable[str],
    sql_dir: Path | None = None,
    kpis: Iterable[KpiDef] | None = None,
    with_platforms: bool = True,
) -> list[Model]:
    """Parse every model, check its tables exist, and return them in dependency order.

    Args:
        external: tables made elsewhere (raw streams, Python assets).
        sql_dir: the folder of models (default ``$KPI_SQL_DIR``, else dbt_like_sql/); its
            ``kpis/catalog.yml``, when there is one, generates ``kpis.kpi_daily`` and
            ``kpis.kpi_ranges``.
        kpis: the KPIs those two are generated from (a business's: :meth:`Settings.kpis`);
            default every KPI of the catalog.
        with_platforms: also the staging models each platform package brings
            (``connectors/<platform>/staging/``); False for a folder of models on its own.

    Raises:
        ModelError: naming the file (and line) of the first problem found.
    """
    sql_dir = sql_dir or default_sql_dir()
    models: dict[str, Model] = {}
    generated = kpi_sql.TABLES if catalog_file(sql_dir).exists() else ()
    declared: dict[str, dict[str, ModelChecks]] = {}
    folders = platform_folders() if with_platforms else []
    for folder in [*folders, *sorted(sql_dir.iterdir())]:
        if folder.is_dir():
            made = [t.split(".")[1] for t in generated if t.startswith(f"{folder.name}.")]
            declared.setdefault(folder.name, {}).update(load_checks(folder, made))
    cache = ParseCache()
    seen: dict[str, Path] = {}
    for table, path, sql in _sources(sql_dir, folders, with_platforms, kpis):
        if table in seen:
            raise ModelError(f"{path}: {table} is also made by {seen[table]}")
        seen[table] = path
        try:
            deps = cache.tables(sql)
        except Exception as err:
            # late: see find_tables; loaded already by the parse
            from sqlglot.errors import ParseError

            if not isinstance(err, ParseError):
                raise
            raise ModelError(f"{path}: cannot parse: {str(err).splitlines()[0]}") from None
        schema, name = table.split(".")
        models[table] = Model(
            table, path, sql, frozenset(deps), declared[schema].get(name, ModelChecks())
        )
    cache.save()
    known = set(external) | set(models)
    for model in models.values():
        for dep in sorted(model.deps):
            if dep not in known:
                raise ModelError(
                    f"{model.path}:{_line_of(model.path.read_text(), dep)}: unknown table {dep!r} "
                    f"(not a raw stream, a Python asset or a model)"
                )
    sorter = graphlib.TopologicalSorter(
        {t: {d for d in m.deps if d in models} for t, m in models.items()}
    )
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as err:
        cycle = err.args[1]
        files = " -> ".join(str(_shown(models[t].path, sql_dir)) for t in cycle)
        raise ModelError(f"dependency cycle between models: {files}") from None
    return [models[t] for t in order]


def raw_inputs(models: Iterable[Model]) -> dict[str, frozenset[str]]:
    """Per model (``models`` in dependency order), every raw table it reads, directly or through
    other models."""
    out: dict[str, frozenset[str]] = {}
    for model in models:
        found: set[str] = set()
        for dep in model.deps:
            if dep.startswith("raw."):
                found.add(dep)
            found |= out.get(dep, frozenset())
        out[model.table] = frozenset(found)
    return out


def select_models(models: list[Model], configured: Iterable[str]) -> list[Model]:
    """The models a business whose raw tables are ``configured`` builds, in dependency order.

    A model is kept when it reads a configured raw table (directly or through other models), when
    it reads no raw table and no model reads it, when it is in ``ALWAYS``, or when a kept model
    reads it (then it is built over what it reads, a raw table of another source read empty: the
    ad campaigns of Meta Ads when only Google Ads is configured). The rest (the staging and KPI
    models of platforms the business does not use) are left out of its graph.
    """
    configured = set(configured)
    raw = raw_inputs(models)
    read = {dep for m in models for dep in m.deps}
    by_table = {m.table: m for m in models}
    keep = {
        t for t in by_table if raw[t] & configured or (not raw[t] and t not in read) or t in ALWAYS
    }
    todo = list(keep)
    while todo:
        for dep in by_table[todo.pop()].deps:
            if dep in by_table and dep not in keep:
                keep.add(dep)
                todo.append(dep)
    return [m for m in models if m.table in keep]


def business_models(
    raw_tables: Iterable[str], kpis: Iterable[KpiDef], sql_dir: Path | None = None
) -> list[Model]:
    """The models of one business (:func:`select_models`): ``kpis.kpi_daily`` and
    ``kpis.kpi_ranges`` generated from its ``kpis`` (those whose sources it configures, and its
    custom ones), every model checked against every source's raw tables all the same."""
    return select_models(
        load_models([*all_raw_tables(), *PYTHON_TABLES], sql_dir, kpis), raw_tables
    )


def _shown(path: Path, sql_dir: Path) -> Path:
    """A model's file as a message names it: under the models folder, else under the repository."""
    for root in (sql_dir, sql_dir.parent):
        if path.is_relative_to(root):
            return path.relative_to(root)
    return path


def all_raw_tables() -> list[str]:
    """Raw tables of every known source: models may read those of disabled sources (then empty)."""
    return [f"raw.{spec.table}" for name in platforms() for spec in streams(name).values()]
