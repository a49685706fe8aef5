-- one row per event-count KPI per business-local day that the streams it reads covered: the
-- count is 0 there (a week without intro calls has 0 calls, not no data), and a ratio adds 0 to
-- its numerator and denominator (nothing to divide by, unless other days bring some)
with catalog as (
    select * from kpis.catalog
),

coverage as (
    select * from kpis.coverage
),

zero_filled as (
    -- counts and ratios the sources report as events; dense KPIs come every day from the platform
    select business_id, kpi_id, aggregation
    from catalog
    where aggregation in ('sum', 'ratio') and not dense and total and sources <> ''
),

final as (
    select
        z.business_id,
        z.kpi_id,
        c.day,
        null::varchar as dimension,
        null::varchar as dimension_value,
        0::decimal(38, 6) as numerator,
        case when z.aggregation = 'ratio' then 0 end::decimal(38, 6) as denominator
    from zero_filled as z
    inner join coverage as c
        on c.business_id = z.business_id
        and c.kpi_id = z.kpi_id
)

select * from final
