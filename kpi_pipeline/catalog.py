"""The KPI catalog: dbt_like_sql/kpis/catalog.yml plus the custom KPIs of kpi.yaml."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

CATALOG_FILE = Path(__file__).resolve().parent.parent / "dbt_like_sql" / "kpis" / "catalog.yml"
DOMAINS = ("marketing", "sales", "production", "customer_service", "hr")


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

    @property
    def shown_decimals(self) -> int:
        """Decimals people see: whole counts, percentages with one, money with two (``decimals`` overrides)."""
        if self.decimals is not None:
            return self.decimals
        return {"count": 0, "ratio": 1, "currency": 2}[self.unit]

    @property
    def pacing(self) -> str:
        """How an open period's value is projected to its end (DESIGN §5 "Pacing").

        ``linear`` for what accumulates over the period: sums, and ratios whose numerator
        accumulates over a level fixed at the period's start (churn, follower growth);
        ``history`` for unique counts, which grow slower than linearly; ``cohort`` for conversion
        cohorts, projected by the conversion-by-age curve of the cohorts that matured
        (:mod:`kpi_pipeline.cohorts`); ``none`` for levels and other ratios of two flows (open
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


@lru_cache(maxsize=1)
def builtin_kpis() -> tuple[KpiDef, ...]:
    """The catalog shipped in dbt_like_sql/kpis/catalog.yml."""
    raw = yaml.safe_load(CATALOG_FILE.read_text())
    kpis = tuple(KpiDef(**entry) for entry in raw["kpis"])
    ids = [k.id for k in kpis]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"{CATALOG_FILE}: duplicate KPI ids {sorted(dupes)}")
    return kpis


def _reads_words(kpi: KpiDef, reads: tuple[tuple[str, str], ...]) -> str:
    """Which raw streams decide a KPI's coverage (DESIGN §5 "Coverage is per input")."""
    # late: every connector's SDK, ~0.6 s of every `kpi` command (config imports catalog)
    from connectors.registry import streams

    needed = [f"{s}/{n}" for s, n in reads if streams(s)[n].kind != "snapshot" and not streams(s)[n].supplementary]
    now = [f"{s}/{n}" for s, n in reads if streams(s)[n].kind == "snapshot" or streams(s)[n].supplementary]
    when = "the day the level stands for" if kpi.aggregation == "last" else "every day of the period"
    if "manual" in kpi.sources:
        return "Reads the CSV: covered through the last date entered for this KPI, never further."
    words = f"Reads {', '.join(needed)}: covered when these loaded {when}" if needed else "Reads"
    if now:
        words += f"{'; ' if needed else ' '}{', '.join(now)} where recorded (only reported as of now, or recently)"
    return words + "."


PACING_WORDS = {
    "linear": "Open periods: paced linearly (projected = to-date / elapsed share).",
    "history": "Open periods: paced by history (to-date x final / to-date at the same share last year, "
               "else last period; linearly without either).",
    "cohort": "Maturing cohorts (open, or closed inside the conversion window): projected by the cohorts "
              "that matured (to-date x final / to-date at the same age); too early without one, "
              "never missed for want of time.",
    "none": "Open periods: not paced (projected = the value as it stands).",
}


def print_catalog(kpis: tuple[KpiDef, ...], fmt: str, language: str, window_days: int,
                  reads: dict[str, tuple[tuple[str, str], ...]] | None = None) -> None:
    """`kpi catalog`: every KPI by domain with its formula, pacing and the raw streams it reads
    (``reads``: its lineage, what decides its coverage), or the same as JSON."""
    reads = reads or {}
    if fmt == "json":
        print(json.dumps([{**k.model_dump(), "pacing": k.pacing,
                           "reads": [f"{s}/{n}" for s, n in reads.get(k.id, ())]} for k in kpis], indent=2))
        return
    for domain in ("marketing", "sales", "production", "customer_service", "hr"):
        group = [k for k in kpis if k.domain == domain]
        if not group:
            continue
        print(f"{domain}")
        for k in group:
            print(f"  {k.id:<34} {k.unit:<8} {k.aggregation:<8} {k.direction:<6} {k.label_in(language)}")
            print(f"  {'':<34} {k.description}")
            words = PACING_WORDS[k.pacing]
            if k.cohort:
                words = words.rstrip(".") + f"; final once the {window_days}-day conversion window has passed."
            print(f"  {'':<34} {words}")
            if reads.get(k.id):
                print(f"  {'':<34} {_reads_words(k, reads[k.id])}")
