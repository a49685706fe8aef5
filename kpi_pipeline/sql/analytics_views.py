"""The analysts' views of the published copy (README "For analysts"): ``scorecard`` and
``kpi_history`` in the file's default schema (``analytics.scorecard`` once ``analytics.duckdb`` is
open), their SQL and what each column means.

The SQL is stored in the published file and bound by the analyst's DuckDB when they query it, so it
keeps to what DuckDB 1.4 (the oldest version the copy is written for) understands. Both views work
on one business's copy and on the portfolio copy alike: every join is on ``business_id`` too.
"""

from __future__ import annotations

# a KPI's figure rounded to the decimals people see (kpis.catalog.decimals): a ratio is a fraction
# (0.412), shown as a percentage with that many decimals, so it keeps two more
_ROUND = "round({x}, (c.decimals + case when c.unit = 'ratio' then 2 else 0 end)::integer)"
# the same figure as text: 41.2%, 25,106.96 EUR, 80
_SHOWN = (
    "case when {x} is null then null when c.unit = 'ratio' then "
    "format('{{:,.{{}}f}}%', {x} * 100, c.decimals::integer) when c.unit = 'currency' then "
    "format('{{:,.{{}}f}}', {x}, c.decimals::integer) || coalesce(' ' || cur.value, '') "
    "else format('{{:,.{{}}f}}', {x}, c.decimals::integer) end"
)


def _figures(*columns: str) -> str:
    return ",\n    ".join(
        f"{_ROUND.format(x='s.' + col)} as {col}, {_SHOWN.format(x='s.' + col)} as {col}_shown"
        for col in columns
    )


SCORECARD_SQL = f"""
with latest as (
    select business_id, max(as_of) as as_of from snapshots.kpi_snapshots group by business_id
),
periods as (
    select p.business_id, p.grain, p.period_start,
        case when p.period_end >= l.as_of then 'current' else 'last closed' end as period_role,
        row_number() over (
            partition by p.business_id, p.grain, p.period_end >= l.as_of
            order by p.period_start desc
        ) as n
    from (
        select distinct business_id, grain, period_start, period_end from snapshots.kpi_snapshots
    ) p
    join latest l on l.business_id = p.business_id
    where p.period_start <= l.as_of
)
select
    s.business_id, l.as_of, s.kpi_id, c.label, c.domain, c.unit, c.direction, s.grain, s.period,
    p.period_role, s.period_start, s.period_end, s.status, s.status_reason,
    {_figures("actual", "target", "projected", "expected_to_date")},
    round(s.attainment, 3) as attainment, round(s.change_pct, 3) as change_pct,
    s.projection_method, s.is_closed, s.is_final
from snapshots.kpi_snapshots s
join periods p
    on p.business_id = s.business_id and p.grain = s.grain and p.period_start = s.period_start
join latest l on l.business_id = s.business_id
left join kpis.catalog c on c.business_id = s.business_id and c.kpi_id = s.kpi_id
left join kpis.parameters cur on cur.business_id = s.business_id and cur.name = 'currency'
where p.n = 1
"""

HISTORY_SQL = f"""
select
    s.business_id, s.kpi_id, c.label, c.domain, c.unit, c.direction, s.grain, s.period,
    s.period_start, s.period_end, s.as_of, s.actual as value,
    {_figures("actual", "target", "projected")},
    s.status, s.status_reason, s.previous_actual, s.change_pct, s.last_year_actual,
    s.is_closed, s.is_final
from snapshots.kpi_snapshots s
left join kpis.catalog c on c.business_id = s.business_id and c.kpi_id = s.kpi_id
left join kpis.parameters cur on cur.business_id = s.business_id and cur.name = 'currency'
"""

_PERIOD = "the period's label: 2026-11 (month), 2026-Q4, 2026-W48 (ISO week), 2026 (year)"
_LABEL = "the KPI's name in the report language (kpis.catalog.label)"
_DOMAIN = "the KPI's domain: marketing, sales, production, customer_service, hr... (kpis.catalog)"
_UNIT = "count, ratio (a fraction: 0.412 is 41.2%) or currency (the business currency)"
_DIRECTION = "higher or lower: which way is better for this KPI"
_STATUS = (
    "on_track, at_risk, off_track, too_early (first 20% of an open period), achieved or missed "
    "(closed periods), no_target, no_data (see status_reason), partial (history starts inside it)"
)


# the columns both views start with: which KPI, of which business, over which period
_KPI_PERIOD = {
    "business_id": "the business (the slug of kpi.yaml's business)",
    "kpi_id": "the KPI's id (kpis.catalog)",
    "label": _LABEL,
    "domain": _DOMAIN,
    "unit": _UNIT,
    "direction": _DIRECTION,
    "grain": "week, month, quarter or year",
    "period": _PERIOD,
    "period_start": "the period's first day (business-local)",
    "period_end": "the period's last day (business-local)",
}


def _figure_docs(name: str, what: str) -> dict[str, str]:
    return {
        name: f"{what}, rounded to the decimals the report shows (a ratio stays a fraction)",
        f"{name}_shown": f"{what} as the report shows it: 41.2%, 25,106.96 EUR, 80",
    }


VIEWS: dict[str, tuple[str, str, dict[str, str]]] = {
    "main.scorecard": (
        SCORECARD_SQL,
        "The scorecard as of the latest sync: every KPI for the current and the last closed week, "
        "month, quarter and year, with its label, domain, unit, status and rounded figures",
        {
            **_KPI_PERIOD,
            "as_of": "the latest as-of of the snapshots: the last day whose data counts",
            "period_role": "current (the period holding as_of) or last closed (the one before it)",
            "status": _STATUS,
            "status_reason": "why the status is what it is when that needs saying (no_data: "
            "which stream and why; partial: since when)",
            **_figure_docs("actual", "the value so far (the whole period once closed)"),
            **_figure_docs("target", "the target in force for the period"),
            **_figure_docs("projected", "where the period is projected to end"),
            **_figure_docs("expected_to_date", "where a paced KPI should be by now"),
            "attainment": "actual or projected against target (1 = on target), three decimals",
            "change_pct": "change against the previous period like for like, as a fraction",
            "projection_method": "linear, history, cohort or none",
            "is_closed": "the period has ended",
            "is_final": "the period's figures will not change any more",
        },
    ),
    "main.kpi_history": (
        HISTORY_SQL,
        "A KPI's values over periods: one row per KPI, grain and period of the current "
        "snapshots, with its label, target and status",
        {
            **_KPI_PERIOD,
            "as_of": "the as-of the row was computed for (a final row keeps its own)",
            "value": "the KPI's value for the period, unrounded (to date for an open period)",
            **_figure_docs("actual", "the value (to date for an open period)"),
            **_figure_docs("target", "the target in force for the period"),
            **_figure_docs("projected", "where the period is projected to end"),
            "status": _STATUS,
            "status_reason": "why the status is what it is when that needs saying",
            "previous_actual": "the previous period at the same elapsed share (all of it once "
            "closed)",
            "change_pct": "change against previous_actual, as a fraction",
            "last_year_actual": "the same period last year (a week: the same ISO week number)",
            "is_closed": "the period has ended",
            "is_final": "the period's figures will not change any more",
        },
    ),
}
