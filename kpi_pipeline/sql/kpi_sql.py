"""The ``kpis.kpi_daily`` and ``kpis.kpi_ranges`` models, generated from the catalog's formulas.

Each built-in KPI declares in its catalog entry what one row of a table adds to its numerator
and denominator on its day (``daily``, :class:`~kpi_pipeline.kpi.catalog.DailyPart`), or, for a
distinct count, its value for an exact date range (``ranges``,
:class:`~kpi_pipeline.kpi.catalog.RangePart`), so adding a KPI is one entry and no shared model is
edited. This module writes the SQL a person would have written by hand: one import CTE per
table read, then one ``union all`` branch per KPI part and dimension naming its KPI by a literal
(``select business_id, 'email_open_rate' as kpi_id, send_date as day, ...``). ``kpi_daily`` adds
the custom KPIs of the CSV (``kpis.kpi_daily_custom``) and the zero rows of covered days
(``kpis.kpi_zero_days``) and sums per KPI, day and dimension value. Lineage
(:mod:`kpi_pipeline.kpi.lineage`) reads the branches like those of any other model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kpi_pipeline.kpi.catalog import DailyPart, KpiDef, RangePart

DAILY = "kpis.kpi_daily"
RANGES = "kpis.kpi_ranges"
TABLES = (DAILY, RANGES)
CUSTOM = "kpis.kpi_daily_custom"  # hand-written: the custom KPIs of the CSV
ZERO_DAYS = "kpis.kpi_zero_days"  # hand-written: the zero rows of covered days
_PLAIN = re.compile(r"^([a-z_][a-z0-9_]*|\d+(\.\d+)?|'[a-z_][a-z0-9_]*')$")

_HEADERS = {
    DAILY: """\
-- one row per KPI per business-local day per dimension value: generated from the daily formulas
-- of kpis/catalog.yml (kpi_pipeline/sql/kpi_sql.py), the custom KPIs of the CSV (with the CSV) and
-- a zero row for each covered day of an event-count KPI (they add up to 0 where nothing happened)
""",
    RANGES: """\
-- one row per distinct-count KPI per exact date range per dimension value: generated from the
-- range formulas of kpis/catalog.yml (kpi_pipeline/sql/kpi_sql.py), never added up from days
""",
}

_DAILY_FINAL = """\
final as (
    select * from formulas
{also}
)
"""

_DAILY_SUM = """
select
    business_id,
    kpi_id,
    day,
    dimension,
    dimension_value,
    sum(numerator)::decimal(38, 6) as numerator,      -- exact: sums do not depend on row order
    sum(denominator)::decimal(38, 6) as denominator
from final
group by business_id, kpi_id, day, dimension, dimension_value
"""

_RANGES_TAIL = """\
final as (
    select * from formulas
)

select * from final
"""

_EMPTY = {  # a catalog without such formulas still makes the table, with its columns
    DAILY: (
        "    select null::varchar as business_id, null::varchar as kpi_id, null::date as day,\n"
        "           null::varchar as dimension, null::varchar as dimension_value,\n"
        "           null::decimal(38, 6) as numerator, null::decimal(38, 6) "
        "as denominator\n    where false"
    ),
    RANGES: (
        "    select null::varchar as business_id, null::varchar as kpi_id,\n"
        "           null::date as window_start, null::date as window_end,\n"
        "           null::varchar as dimension, null::varchar as dimension_value,\n"
        "           null::double as value\n    where false"
    ),
}


def _cast(expression: str | None, type_: str) -> str:
    """``expression::type``, parenthesised unless a column, a number or a quoted name."""
    if expression is None:
        return f"null::{type_}"
    text = expression.strip()
    return f"{text if _PLAIN.match(text) else f'({text})'}::{type_}"


def _cte(table: str) -> str:
    """The import CTE's name: the table's own name (staging and kpis names do not collide)."""
    return table.split(".", 1)[1]


def _branch(kpi_id: str, part: DailyPart | RangePart, dimension: tuple[str, str] | None) -> str:
    name, value = (None, None) if dimension is None else (f"'{dimension[0]}'", dimension[1])
    dims = f"{_cast(name, 'varchar')} as dimension, {_cast(value, 'varchar')} as dimension_value"
    if isinstance(part, DailyPart):
        lines = [
            f"    select business_id, '{kpi_id}' as kpi_id, {part.day} as day,",
            f"           {dims},",
            f"           {_cast(part.numerator, 'decimal(38, 6)')} as numerator, "
            f"{_cast(part.denominator, 'decimal(38, 6)')} as denominator",
        ]
    else:
        lines = [
            f"    select business_id, '{kpi_id}' as kpi_id, window_start, window_end,",
            f"           {dims},",
            f"           {_cast(part.value, 'double')} as value",
        ]
    lines.append(f"    from {_cte(part.from_)}")
    if part.where:
        lines.append(f"    where {part.where}")
    return "\n".join(lines)


def _parts(kpi: KpiDef, table: str) -> tuple[DailyPart | RangePart, ...]:
    return kpi.daily if table == DAILY else kpi.ranges


def _also(table: str, custom: bool) -> tuple[str, ...]:
    """The hand-written models ``table`` reads besides the formulas."""
    return ((CUSTOM,) if custom else ()) + (ZERO_DAYS,) if table == DAILY else ()


def tables_read(kpis: Iterable[KpiDef], table: str, custom: bool = True) -> list[str]:
    """Every table the generated ``table`` reads, in order of first use."""
    read = [part.from_ for kpi in kpis for part in _parts(kpi, table)]
    return list(dict.fromkeys([*read, *_also(table, custom)]))


def model_sql(kpis: Iterable[KpiDef], table: str, custom: bool = True) -> str:
    """The SQL of ``table`` (:data:`DAILY` or :data:`RANGES`) for these KPIs' formulas; ``custom``:
    ``kpis.kpi_daily`` adds the custom KPIs of the CSV (a business without the CSV leaves them out,
    and with them the CSV's models).

    Raises:
        ValueError: a KPI whose formula names a dimension twice in one part.
    """
    kpis = [k for k in kpis if _parts(k, table)]
    imports = [
        f"{_cte(t)} as (\n    select * from {t}\n)" for t in tables_read(kpis, table, custom)
    ]
    branches: list[str] = []
    for kpi in kpis:
        for part in _parts(kpi, table):
            names = [d[0] for d in part.by if d is not None]
            if len(set(names)) < len(names) or part.by.count(None) > 1:
                raise ValueError(f"KPI {kpi.id}: a dimension is named twice in `by`")
            branches.extend(_branch(kpi.id, part, dimension) for dimension in part.by)
    formulas = "\n    union all\n".join(branches) or _EMPTY[table]
    return (
        _HEADERS[table]
        + "with "
        + "".join(f"{i},\n\n" for i in imports)
        + f"formulas as (\n{formulas}\n),\n\n"
        + (_daily_tail(custom) if table == DAILY else _RANGES_TAIL)
    )


def _daily_tail(custom: bool) -> str:
    also = "".join(
        f"    union all\n    select * from {_cte(t)}\n" for t in _also(DAILY, custom)
    ).rstrip("\n")
    return _DAILY_FINAL.format(also=also) + _DAILY_SUM


def daily_sql(kpis: Iterable[KpiDef]) -> str:
    """The SQL of ``kpis.kpi_daily`` (KPIs without a ``daily`` formula add nothing)."""
    return model_sql(kpis, DAILY)


def ranges_sql(kpis: Iterable[KpiDef]) -> str:
    """The SQL of ``kpis.kpi_ranges`` (KPIs without a ``ranges`` formula add nothing)."""
    return model_sql(kpis, RANGES)
