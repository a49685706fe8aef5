-- one row per distinct-count KPI per exact date range per dimension value, every domain
with marketing as (
    select * from kpis.kpi_ranges_marketing
),

sales as (
    select * from kpis.kpi_ranges_sales
),

final as (
    select * from marketing
    union all
    select * from sales
)

select * from final
