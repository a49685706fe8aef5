-- one row per currency kpi.yaml's fx gives a rate for: units of the business currency per unit
with parameters as (
    select * from kpis.parameters
),

final as (
    select business_id, split_part(name, ':', 2) as currency, value::decimal(18, 8) as rate
    from parameters
    where name like 'fx_rate:%'
)

select * from final
