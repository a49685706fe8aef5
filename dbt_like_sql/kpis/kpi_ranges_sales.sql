-- one row per customer KPI per period window: orders per customer and the repeat-customer
-- rate count each paying customer once in the window, so they are computed for the exact
-- window from the charges, never added up from days
with windows as (
    select * from kpis.calendar_windows
),

charges as (
    select * from staging.stg_stripe__charges
),

paid as (
    -- orders: succeeded, not returned, not fully refunded; a customer is a person (customer_key)
    select business_id, customer_key as customer_id, payment_date from charges where is_order
),

first_payments as (
    select business_id, customer_id, min(payment_date) as first_payment_date
    from paid
    group by business_id, customer_id
),

ranges as (
    select distinct business_id, window_start, window_end from windows
),

in_window as (
    select
        r.business_id, r.window_start, r.window_end,
        count(*) as count_orders,
        count(distinct p.customer_id) as count_customers,
        count(distinct p.customer_id) filter (where f.first_payment_date < r.window_start) as count_returning
    from ranges as r
    inner join paid as p
        on p.business_id = r.business_id
        and p.payment_date between r.window_start and r.window_end
    inner join first_payments as f
        on f.business_id = p.business_id
        and f.customer_id = p.customer_id
    group by r.business_id, r.window_start, r.window_end
),

final as (
    select business_id, 'orders_per_customer' as kpi_id, window_start, window_end,
           null::varchar as dimension, null::varchar as dimension_value,
           count_orders::double / count_customers as value
    from in_window
    union all
    select business_id, 'repeat_customer_rate', window_start, window_end, null, null,
           count_returning::double / count_customers
    from in_window
)

select * from final
