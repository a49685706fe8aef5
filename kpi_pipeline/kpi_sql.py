"""The ``kpis.kpi_daily`` model, generated from the daily formulas of the catalog.

Each built-in KPI declares in its catalog entry what one row of a table adds to its numerator
and denominator on its day (:class:`~kpi_pipeline.catalog.DailyPart`), so adding a KPI is one
entry and no shared model is edited. This module writes the SQL a person would have written by
hand: one import CTE per table read, one ``union all`` branch per KPI part and dimension naming
its KPI by a literal (``select business_id, 'email_open_rate' as kpi_id, send_date as day, ...``),
the custom KPIs of the CSV (``kpis.kpi_daily_custom``) and the zero rows of covered days
(``kpis.kpi_zero_days``), summed per KPI, day and dimension value. Lineage
(:mod:`kpi_pipeline.lineage`) reads the branches like those of any other model.
"""

from __future__ import annotations

import re
from typing import Iterable

from kpi_pipeline.catalog import DailyPart, KpiDef

TABLE = "kpis.kpi_daily"
# read by every generated kpi_daily besides the formulas (hand-written models)
ALWAYS = ("kpis.kpi_daily_custom", "kpis.kpi_zero_days")
_PLAIN = re.compile(r"^([a-z_][a-z0-9_]*|\d+(\.\d+)?|'[a-z_][a-z0-9_]*')$")

HEADER = """\
-- one row per KPI per business-local day per dimension value: generated from the daily formulas
-- of kpis/catalog.yml (kpi_pipeline/kpi_sql.py), the custom KPIs of the CSV and a zero row for
-- each covered day of an event-count KPI (they add up to 0 where nothing happened)
"""


def _cast(expression: str | None, type_: str = "decimal(38, 6)") -> str:
    """``expression::type``, parenthesised unless a column or a number."""
    if expression is None:
        return f"null::{type_}"
    text = expression.strip()
    return f"{text if _PLAIN.match(text) else f'({text})'}::{type_}"


def _cte(table: str) -> str:
    """The import CTE's name: the table's own name (staging and kpis names do not collide)."""
    return table.split(".", 1)[1]


def _branch(kpi_id: str, part: DailyPart, dimension: tuple[str, str] | None) -> str:
    name, value = (None, None) if dimension is None else (f"'{dimension[0]}'", dimension[1])
    lines = [
        f"    select business_id, '{kpi_id}' as kpi_id, {part.day} as day,",
        f"           {_cast(name, 'varchar')} as dimension, {_cast(value, 'varchar')} as dimension_value,",
        f"           {_cast(part.numerator)} as numerator, {_cast(part.denominator)} as denominator",
        f"    from {_cte(part.from_)}",
    ]
    if part.where:
        lines.append(f"    where {part.where}")
    return "\n".join(lines)


def daily_tables(kpis: Iterable[KpiDef]) -> list[str]:
    """Every table the generated model reads, in order of first use."""
    tables = [part.from_ for kpi in kpis for part in kpi.daily]
    return list(dict.fromkeys([*tables, *ALWAYS]))


def daily_sql(kpis: Iterable[KpiDef]) -> str:
    """The SQL of ``kpis.kpi_daily`` for these KPIs (those without a ``daily`` formula add nothing).

    Raises:
        ValueError: a KPI whose formula names a dimension twice.
    """
    kpis = [k for k in kpis if k.daily]
    imports = [f"{_cte(t)} as (\n    select * from {t}\n)" for t in daily_tables(kpis)]
    branches = []
    for kpi in kpis:
        for part in kpi.daily:
            names = [d[0] for d in part.by if d is not None]
            if len(set(names)) < len(names) or part.by.count(None) > 1:
                raise ValueError(f"KPI {kpi.id}: a dimension is named twice in `by`")
            branches.extend(_branch(kpi.id, part, dimension) for dimension in part.by)
    formulas = "\n    union all\n".join(branches) or (
        "    select business_id, kpi_id, day, dimension, dimension_value, numerator, denominator\n"
        "    from kpi_daily_custom\n    where false")
    return (HEADER + "with " + ",\n\n".join(imports) + ",\n\n"
            f"formulas as (\n{formulas}\n),\n\n"
            "final as (\n"
            "    select * from formulas\n"
            "    union all\n"
            "    select * from kpi_daily_custom\n"
            "    union all\n"
            "    select * from kpi_zero_days\n"
            ")\n\n"
            "select\n"
            "    business_id,\n"
            "    kpi_id,\n"
            "    day,\n"
            "    dimension,\n"
            "    dimension_value,\n"
            "    sum(numerator)::decimal(38, 6) as numerator,      -- exact: sums do not depend on row order\n"
            "    sum(denominator)::decimal(38, 6) as denominator\n"
            "from final\n"
            "group by business_id, kpi_id, day, dimension, dimension_value\n")
