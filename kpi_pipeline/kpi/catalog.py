"""The KPI catalog: dbt_like_sql/kpis/catalog.yml plus the custom KPIs of kpi.yaml.

A built-in KPI is one catalog entry: what it means (label, unit, aggregation, description) and,
its formula in SQL: ``daily`` for a KPI counted per day (:class:`DailyPart`), ``ranges`` for a
distinct count of exact date ranges (:class:`RangePart`), from which :mod:`kpi_pipeline.sql.kpi_sql`
generates the ``kpis.kpi_daily`` and ``kpis.kpi_ranges`` models.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.registry import platforms, streams

SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
CATALOG_FILE = SQL_DIR / "kpis" / "catalog.yml"
# libyaml's parser where PyYAML has it: the same documents, about ten times less CPU (every load of
# the definitions reads the catalog and each folder's checks.yml)
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DOMAINS = ("marketing", "sales", "production", "customer_service", "hr")


def sql_dir() -> Path:
    """The folder of the SQL models and the KPI catalog: ``$KPI_SQL_DIR``, else dbt_like_sql/."""
    return Path(os.environ["KPI_SQL_DIR"]) if os.environ.get("KPI_SQL_DIR") else SQL_DIR


def catalog_file(models: Path | None = None) -> Path:
    """The catalog of a folder of models (default :func:`sql_dir`)."""
    return (models or sql_dir()) / "kpis" / "catalog.yml"


_NAME = r"[a-z_][a-z0-9_]*"


class _Part(BaseModel):
    """What every part of a formula has: the table it reads, a filter, its breakdown."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from", pattern=rf"^{_NAME}\.{_NAME}$")  # a model or staging table
    where: str | None = None
    by: tuple[tuple[str, str] | None, ...] = (None,)

    @field_validator("by", mode="before")
    @classmethod
    def _dimensions(cls, value: Any) -> Any:
        """``[total, channel, {product: product_name}]`` becomes
        ``(None, ("channel", "channel"), ("product", "product_name"))``."""
        if isinstance(value, (str, dict)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return value
        out: list[Any] = []
        for item in value:
            if item is None or item == "total":
                out.append(None)
            elif isinstance(item, str):
                out.append((item, item))
            elif isinstance(item, dict):
                out.extend((str(name), str(expr)) for name, expr in item.items())
            else:
                out.append(item)
        return out

    @field_validator("numerator", "denominator", "value", mode="before", check_fields=False)
    @classmethod
    def _number(cls, value: Any) -> Any:
        """``numerator: 1`` (each row counts one) is SQL too."""
        return (
            str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        )


class DailyPart(_Part):
    """One part of a KPI's daily formula: per row of one table, what it adds to the KPI's
    numerator and denominator on its business-local day, summed per day and dimension value.

    ``by`` breaks the KPI down: ``total`` is the row without a dimension, a column name is one
    row per value of that column (the dimension named after it), ``{name: expression}`` names
    the dimension. A KPI of several parts (a total from one filter, its channels from another)
    lists them; their rows add up.
    """

    day: str = "day"  # the business-local date column
    numerator: str
    denominator: str | None = None  # none: a count or an amount, not a ratio


class RangePart(_Part):
    """One part of a distinct-count KPI's formula: its value for an exact date range, read from a
    table with ``window_start`` and ``window_end`` (never added up from days)."""

    value: str


class KpiDef(BaseModel):
    """One catalog entry; ids are public."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    label: str
    label_nl: str | None = None
    domain: Literal["marketing", "sales", "production", "customer_service", "hr"]
    unit: Literal["count", "ratio", "currency"]
    direction: Literal["higher", "lower"]
    aggregation: Literal["sum", "ratio", "last", "distinct"]
    description: str = ""
    sources: tuple[str, ...] = ()
    denominator_kpi: str | None = None
    dense: bool = False
    total: bool = True
    pace: bool = True
    share: bool = False
    any_source: bool = False
    cohort: bool = False  # follows people for the conversion window: final only after it
    decimals: int | None = Field(default=None, ge=0, le=4)  # shown decimals; default by unit
    daily: tuple[
        DailyPart, ...
    ] = ()  # the formula of kpis.kpi_daily's rows (catalog.yml: `daily:`)
    ranges: tuple[RangePart, ...] = ()  # a distinct count's, of kpis.kpi_ranges (`ranges:`)

    @field_validator("daily", "ranges", mode="before")
    @classmethod
    def _parts(cls, value: Any) -> Any:
        """One part may be written without a list."""
        return [value] if isinstance(value, dict) else value

    @property
    def shown_decimals(self) -> int:
        """Decimals people see: whole counts, percentages with one,
        money with two (``decimals`` overrides)."""
        if self.decimals is not None:
            return self.decimals
        return {"count": 0, "ratio": 1, "currency": 2}[self.unit]

    @property
    def pacing(self) -> str:
        """How an open period's value is projected to its end (README.md#what-the-numbers-mean).

        ``linear`` for what accumulates over the period: sums, and ratios whose numerator
        accumulates over a level fixed at the period's start (churn, follower growth);
        ``history`` for unique counts, which grow slower than linearly; ``cohort`` for conversion
        cohorts, projected by the conversion-by-age curve of the cohorts that matured
        (:mod:`kpi_pipeline.kpi.cohorts`); ``none`` for levels and other ratios of two flows (open
        rate, CTR), which are projected as they stand.
        """
        if self.cohort:
            return "cohort"
        if not self.pace:
            return "none"
        if self.aggregation == "sum" or (self.aggregation == "ratio" and self.denominator_kpi):
            return "linear"
        return "history" if self.aggregation == "distinct" else "none"

    def label_in(self, language: str) -> str:
        return (self.label_nl if language == "nl" else None) or self.label


def builtin_kpis() -> tuple[KpiDef, ...]:
    """The catalog of the models folder (dbt_like_sql/kpis/catalog.yml, see :func:`sql_dir`) and
    the entries platform packages bring."""
    return full_catalog(catalog_file())


def full_catalog(path: Path) -> tuple[KpiDef, ...]:
    """The KPIs of a catalog file followed by those of every platform's ``kpis.yml`` (KPIs only
    that platform feeds; the shipped platforms have none: their KPIs are in the one catalog), ids
    unique across them."""
    kpis = load_catalog(path)
    for platform in platforms().values():
        if platform.kpis_file.exists():
            kpis += load_catalog(platform.kpis_file)
    ids = [k.id for k in kpis]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"KPI ids declared twice (in {path} or a platform's kpis.yml): {twice}")
    return kpis


@lru_cache(maxsize=4)
def load_catalog(path: Path) -> tuple[KpiDef, ...]:
    """Every KPI of one catalog file, its ids unique.

    Raises:
        ValueError: naming the file and the entry (its position and id) that is wrong.
    """
    raw = yaml.load(path.read_text(), Loader=SAFE_LOADER)
    kpis = []
    for i, entry in enumerate(raw["kpis"]):
        try:
            kpis.append(KpiDef(**entry))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(
                f"{path}: kpis.{i} ({entry.get('id', '?')}): {where}: {first['msg']}"
            ) from None
    ids = [k.id for k in kpis]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"{path}: duplicate KPI ids {sorted(dupes)}")
    return tuple(kpis)


def _reads_words(kpi: KpiDef, reads: tuple[tuple[str, str], ...]) -> str:
    """Which raw streams decide a KPI's coverage (README.md#what-the-numbers-mean)."""
    needed = [
        f"{s}/{n}"
        for s, n in reads
        if streams(s)[n].kind != "snapshot" and not streams(s)[n].supplementary
    ]
    now = [
        f"{s}/{n}"
        for s, n in reads
        if streams(s)[n].kind == "snapshot" or streams(s)[n].supplementary
    ]
    when = (
        "the day the level stands for" if kpi.aggregation == "last" else "every day of the period"
    )
    if "manual" in kpi.sources:
        return "Reads the CSV: covered through the last date entered for this KPI, never further."
    words = f"Reads {', '.join(needed)}: covered when these loaded {when}" if needed else "Reads"
    if now:
        words += (
            f"{'; ' if needed else ' '}{', '.join(now)} where recorded "
            "(only reported as of now, or recently)"
        )
    return words + "."


PACING_WORDS = {
    "linear": "Open periods: paced linearly (projected = to-date / elapsed share).",
    "history": "Open periods: paced by history (to-date x final / to-date at the same share last "
    "year, else last period; linearly without either).",
    "cohort": "Maturing cohorts (open, or closed inside the conversion window): projected by the "
    "cohorts that matured (to-date x final / to-date at the same age); too early without one, "
    "never missed for want of time.",
    "none": "Open periods: not paced (projected = the value as it stands).",
}


def print_catalog(
    kpis: tuple[KpiDef, ...],
    fmt: str,
    language: str,
    window_days: int,
    reads: dict[str, tuple[tuple[str, str], ...]] | None = None,
) -> None:
    """`kpi catalog`: every KPI by domain with its formula, pacing and the raw streams it reads
    (``reads``: its lineage, what decides its coverage), or the same as JSON."""
    reads = reads or {}
    if fmt == "json":
        print(
            json.dumps(
                [
                    {
                        **k.model_dump(exclude={"daily", "ranges"}),
                        "pacing": k.pacing,
                        "reads": [f"{s}/{n}" for s, n in reads.get(k.id, ())],
                    }
                    for k in kpis
                ],
                indent=2,
            )
        )
        return
    for domain in ("marketing", "sales", "production", "customer_service", "hr"):
        group = [k for k in kpis if k.domain == domain]
        if not group:
            continue
        print(f"{domain}")
        for k in group:
            print(
                f"  {k.id:<34} {k.unit:<8} {k.aggregation:<8} {k.direction:<6} "
                f"{k.label_in(language)}"
            )
            print(f"  {'':<34} {k.description}")
            words = PACING_WORDS[k.pacing]
            if k.cohort:
                words = (
                    words.rstrip(".")
                    + f"; final once the {window_days}-day conversion window has passed."
                )
            print(f"  {'':<34} {words}")
            if reads.get(k.id):
                print(f"  {'':<34} {_reads_words(k, reads[k.id])}")
