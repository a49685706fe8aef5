-- one row per KPI per business-local day per dimension value: every domain's daily facts, and a
-- zero row for each covered day of an event-count KPI (they add up to 0 where nothing happened)
with newsletter as (
    select * from kpis.kpi_daily_newsletter
),

marketing as (
    select * from kpis.kpi_daily_marketing
),

sales as (
    select * from kpis.kpi_daily_sales
),

zero_days as (
    select * from kpis.kpi_zero_days
),

final as (
    select * from newsletter
    union all
    select * from marketing
    union all
    select * from sales
    union all
    select * from zero_days
)

select
    business_id,
    kpi_id,
    day,
    dimension,
    dimension_value,
    sum(numerator)::decimal(38, 6) as numerator,
    sum(denominator)::decimal(38, 6) as denominator
from final
group by business_id, kpi_id, day, dimension, dimension_value
