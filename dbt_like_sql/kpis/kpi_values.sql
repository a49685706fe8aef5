-- one row per KPI x grain x period x dimension value (dimension null = the total), each period
-- aggregated from its first day up to as-of (the whole period once it has closed); is_partial:
-- the period starts before the data there can be (history_start, or a dense KPI's platform limit,
-- like Mailchimp's 180 days of list activity): its value covers only covered_from onwards
with window_values as (
    select * from kpis.kpi_window_values
),

catalog as (
    select * from kpis.catalog
),

final as (
    select
        w.business_id,
        w.kpi_id,
        grain,
        period_start,
        period_end,
        dimension,
        dimension_value,
        numerator,
        denominator,
        value,
        case when c.dense then greatest(w.window_start, w.first_day) else w.window_start end as covered_from,
        covered_from > period_start as is_partial
    from window_values as w
    inner join catalog as c using (business_id, kpi_id)
    where window_kind = 'period'
)

select * from final
