-- one row per sales KPI per business-local day per dimension value: leads, intro calls, new
-- customers (people), revenue net of everything that takes a sale back (settled money; refunds,
-- returned debits, disputes and their reversals on their own date), orders, sales per
-- product, the two conversion cohorts (by lead date and by call date: how many of that day's
-- leads or calls became customers within the conversion window), and the custom (manual) KPIs
with charges as (
    select * from staging.stg_stripe__charges
),

money as (
    select * from staging.stg_stripe__balance_transactions
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

cohort_members as (
    select * from kpis.kpi_cohort_members
),

manual as (
    select * from staging.stg_manual__metrics
),

orders as (
    select * from charges where is_order
),

first_orders as (
    -- a customer (a person: a guest who later opens an account is one) is new on the day of
    -- their first order (fully refunded charges and returned debits are no orders)
    select business_id, customer_key, min(payment_date) as first_payment_date
    from orders
    group by business_id, customer_key
),

revenue_days as (
    select business_id, day, sum(amount) as revenue
    from money
    where is_sale
    group by business_id, day
),

order_days as (
    select business_id, payment_date as day, count(*) as orders
    from orders
    group by business_id, payment_date
),

new_customers as (
    select business_id, first_payment_date as day, count(*) as customers
    from first_orders
    group by business_id, first_payment_date
),

calls as (
    select business_id, event_uri, meeting_date
    from events
    where is_intro_call and is_active
),

call_days as (
    -- intro calls read the meetings only: their invitees matter for the conversion cohort alone
    select business_id, meeting_date as day, count(*) as calls
    from calls
    group by business_id, meeting_date
),

lead_days as (
    select business_id, lead_date as day, count(*) as leads
    from contacts
    where is_lead
    group by business_id, lead_date
),

call_cohorts as (
    -- of each day's intro calls, how many converted within the window (kpi_cohort_members)
    select business_id, day, sum(members) as calls,
           coalesce(sum(members) filter (where conversion_days is not null), 0) as converted
    from cohort_members
    where kpi_id = 'call_conversion_rate'
    group by business_id, day
),

lead_cohorts as (
    select business_id, day, sum(members) as leads,
           coalesce(sum(members) filter (where conversion_days is not null), 0) as converted
    from cohort_members
    where kpi_id = 'lead_conversion_rate'
    group by business_id, day
),

products as (
    select business_id, payment_date as day, product_name, sum(amount) as amount, sum(quantity) as units
    from lines
    group by business_id, payment_date, product_name
),

final as (
    select business_id, 'revenue' as kpi_id, day, null as dimension, null as dimension_value,
           revenue as numerator, null as denominator from revenue_days
    union all
    select business_id, 'orders', day, null, null, orders, null from order_days
    union all
    select business_id, 'average_order_value', day, null, null, revenue, 0 from revenue_days
    union all
    select business_id, 'average_order_value', day, null, null, 0, orders from order_days
    union all
    select business_id, 'new_customers', day, null, null, customers, null from new_customers
    union all
    select business_id, 'intro_calls', day, null, null, calls, null from call_days
    union all
    select business_id, 'leads', day, null, null, leads, null from lead_days
    union all
    select business_id, 'lead_conversion_rate', day, null, null, converted, leads from lead_cohorts
    union all
    select business_id, 'call_conversion_rate', day, null, null, converted, calls from call_cohorts
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
