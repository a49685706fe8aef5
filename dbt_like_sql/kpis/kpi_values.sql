-- one row per KPI x grain x period x dimension value (dimension null = the total), each period
-- aggregated from its first day up to as-of (the whole period once it has closed)
with window_values as (
    select * from kpis.kpi_window_values
),

final as (
    select
        business_id,
        kpi_id,
        grain,
        period_start,
        period_end,
        dimension,
        dimension_value,
        numerator,
        denominator,
        value
    from window_values
    where window_kind = 'period'
)

select * from final
