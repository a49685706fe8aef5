-- one row per KPI per business-local day per dimension value: every domain's daily facts
with newsletter as (
    select * from kpis.kpi_daily_newsletter
),

marketing as (
    select * from kpis.kpi_daily_marketing
),

sales as (
    select * from kpis.kpi_daily_sales
),

final as (
    select * from newsletter
    union all
    select * from marketing
    union all
    select * from sales
)

select * from final
