-- one row per hand-kept value: custom KPI, date, optional dimension value
with metrics as (
    select * from raw.manual__metrics
),

final as (
    select
        business_id,
        kpi_id,
        date as day,
        nullif(dimension_value, '') as dimension_value,
        value
    from metrics
)

select * from final
