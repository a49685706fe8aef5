-- one row per sales KPI per business-local day per dimension value: leads, intro calls, new
-- customers, revenue net of refunds, orders, sales per product, and the custom (manual) KPIs
with charges as (
    select * from staging.stg_stripe__charges
),

lines as (
    select * from staging.stg_stripe__invoice_lines
),

events as (
    select * from staging.stg_calendly__events
),

contacts as (
    select * from staging.stg_hubspot__contacts
),

manual as (
    select * from staging.stg_manual__metrics
),

paid as (
    select * from charges where is_succeeded
),

first_payments as (
    select business_id, customer_id, min(payment_date) as first_payment_date
    from paid
    group by business_id, customer_id
),

days as (
    select business_id, payment_date as day, sum(amount - amount_refunded) as revenue, count(*) as orders
    from paid
    group by business_id, payment_date
),

new_customers as (
    select business_id, first_payment_date as day, count(*) as customers
    from first_payments
    group by business_id, first_payment_date
),

intro_calls as (
    select business_id, meeting_date as day, count(*) as calls
    from events
    where is_intro_call and is_active
    group by business_id, meeting_date
),

leads as (
    select business_id, created_date as day, count(*) as leads
    from contacts
    where is_lead
    group by business_id, created_date
),

products as (
    select business_id, payment_date as day, product_name, sum(amount) as amount, sum(quantity) as units
    from lines
    group by business_id, payment_date, product_name
),

final as (
    select business_id, 'revenue' as kpi_id, day, null as dimension, null as dimension_value,
           revenue as numerator, null as denominator from days
    union all
    select business_id, 'orders', day, null, null, orders, null from days
    union all
    select business_id, 'average_order_value', day, null, null, revenue, orders from days
    union all
    select business_id, 'new_customers', day, null, null, customers, null from new_customers
    union all
    select business_id, 'intro_calls', day, null, null, calls, null from intro_calls
    union all
    select business_id, 'leads', day, null, null, leads, null from leads
    union all
    select business_id, 'lead_conversion_rate', day, null, null, customers, null from new_customers
    union all
    select business_id, 'lead_conversion_rate', day, null, null, 0, leads from leads
    union all
    select business_id, 'call_conversion_rate', day, null, null, customers, null from new_customers
    union all
    select business_id, 'call_conversion_rate', day, null, null, 0, calls from intro_calls
    union all
    select business_id, 'sales_by_product', day, 'product', product_name, amount, null from products
    union all
    select business_id, 'units_by_product', day, 'product', product_name, units, null from products
    union all
    select business_id, kpi_id, day, case when dimension_value is not null then 'value' end, dimension_value,
           value, null
    from manual
)

select
    business_id,
    kpi_id,
    day,
    dimension::varchar as dimension,
    dimension_value::varchar as dimension_value,
    sum(numerator)::decimal(38, 6) as numerator,      -- exact: sums do not depend on row order
    sum(denominator)::decimal(38, 6) as denominator
from final
group by all
