-- one row per custom KPI (kpi.yaml's custom_kpis, kept by hand in the CSV) per day per dimension
-- value: the values entered, added up
with manual as (
    select * from staging.stg_manual__metrics
),

final as (
    select
        business_id,
        kpi_id,
        day,
        case when dimension_value is not null then 'value' end::varchar as dimension,
        dimension_value::varchar as dimension_value,
        sum(value)::decimal(38, 6) as numerator,
        null::decimal(38, 6) as denominator
    from manual
    group by all
)

select * from final
