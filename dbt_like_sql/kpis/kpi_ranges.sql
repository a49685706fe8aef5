-- one row per distinct-count KPI per exact date range per dimension value, every domain
with marketing as (
    select * from kpis.kpi_ranges_marketing
),

final as (
    select * from marketing
)

select * from final
