-- one row per KPI x grain x window kind x period x dimension value: the KPI aggregated over the
-- window (the period up to as-of, or a comparison window), by the catalog's aggregation:
-- sum = sum of numerators; ratio = sum(numerator) / sum(denominator) (never an average of daily
-- ratios); last = the level on the window's last day; a denominator_kpi ratio divides by that
-- level KPI's value at the end of the day before the window; distinct = the platform's unique
-- count for exactly the window's dates (no value when the platform was not asked for them).
-- A ratio whose denominator is 0 keeps its row with a null value: nothing to divide by.
with windows as (
    select * from kpis.calendar_windows
),

catalog as (
    select * from kpis.catalog
),

facts as (
    select * from kpis.kpi_daily
),

range_facts as (
    select * from kpis.kpi_ranges
),

additive as (
    select
        w.business_id, f.kpi_id, w.grain, w.window_kind, w.period_start, w.period_end,
        w.window_start, w.window_end, w.window_days, f.dimension, f.dimension_value,
        sum(f.numerator) as numerator,
        sum(f.denominator) as denominator,
        count(distinct f.day) as count_days,
        min(f.day) as first_day
    from windows as w
    inner join facts as f
        on f.business_id = w.business_id
        and f.day between w.window_start and w.window_end
    inner join catalog as c
        on c.kpi_id = f.kpi_id
        and c.aggregation in ('sum', 'ratio')
    group by all
    -- a dense KPI comes every day: a window missing a day has no value, except one whose days start
    -- late and then run unbroken to its end (history_start or the platform's limit: partial, said so)
    having not any_value(c.dense)
        or count(distinct f.day) = any_value(w.window_end) - min(f.day) + 1 and max(f.day) = any_value(w.window_end)
),

levels as (
    select
        w.business_id, f.kpi_id, w.grain, w.window_kind, w.period_start, w.period_end,
        w.window_start, w.window_end, w.window_days, f.dimension, f.dimension_value,
        f.numerator, f.denominator, 1 as count_days, f.day as first_day
    from windows as w
    inner join facts as f
        on f.business_id = w.business_id
        and f.day = w.window_end
    inner join catalog as c
        on c.kpi_id = f.kpi_id
        and c.aggregation = 'last'
),

openings as (
    select
        w.business_id, f.kpi_id, w.grain, w.window_kind, w.period_start,
        f.dimension, f.dimension_value, f.numerator as opening
    from windows as w
    inner join facts as f
        on f.business_id = w.business_id
        and f.day = w.window_start - 1
),

combined as (
    select a.* replace (
            case when c.denominator_kpi is null then a.denominator else o.opening end as denominator
        )
    from additive as a
    inner join catalog as c on c.kpi_id = a.kpi_id
    left join openings as o
        on o.kpi_id = c.denominator_kpi
        and o.business_id = a.business_id
        and o.grain = a.grain
        and o.window_kind = a.window_kind
        and o.period_start = a.period_start
        and o.dimension is not distinct from a.dimension
        and o.dimension_value is not distinct from a.dimension_value
    union all
    select * from levels
),

exact_ranges as (
    select
        w.business_id, r.kpi_id, w.grain, w.window_kind, w.period_start, w.period_end,
        w.window_start, w.window_end, r.dimension, r.dimension_value,
        r.value::decimal(38, 6) as numerator, null::decimal(38, 6) as denominator, r.value,
        w.window_start as first_day
    from windows as w
    inner join range_facts as r
        on r.business_id = w.business_id
        and r.window_start = w.window_start
        and r.window_end = w.window_end
),

final as (
    select
        x.business_id,
        x.kpi_id,
        x.grain,
        x.window_kind,
        x.period_start,
        x.period_end,
        x.window_start,
        x.window_end,
        x.dimension,
        x.dimension_value,
        x.numerator,
        x.denominator,
        case
            when c.aggregation = 'sum' then x.numerator::double
            when x.denominator is null and c.aggregation = 'last' then x.numerator::double
            else x.numerator::double / nullif(x.denominator::double, 0)
        end as value,
        x.first_day
    from combined as x
    inner join catalog as c on c.kpi_id = x.kpi_id
    union all
    select * from exact_ranges
)

select * from final
where value is not null
    or denominator = 0  -- a ratio with nothing to divide by: undefined, but the period was covered
