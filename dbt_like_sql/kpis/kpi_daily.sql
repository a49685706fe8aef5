-- one row per KPI per business-local day per dimension value: every domain's daily facts
with newsletter as (
    select * from kpis.kpi_daily_newsletter
),

final as (
    select * from newsletter
)

select * from final
