-- one row per period window with orders: its orders and the distinct customers (people) who
-- ordered in it, of whom those whose first order was before the window, counted for the exact
-- window from the charges (a customer counts once however many days they bought on)
with windows as (
    select * from kpis.calendar_windows
),

first_orders as (
    select * from kpis.customer_first_orders
),

charges as (
    select * from staging.stg_stripe__charges
),

paid as (
    -- orders: succeeded, not returned, not fully refunded; a customer is a person (customer_key)
    select business_id, customer_key, payment_date from charges where is_order
),

ranges as (
    select distinct business_id, window_start, window_end from windows
),

final as (
    select
        r.business_id, r.window_start, r.window_end,
        count(*) as count_orders,
        count(distinct p.customer_key) as count_customers,
        count(distinct p.customer_key) filter (where f.first_payment_date < r.window_start) as count_returning
    from ranges as r
    inner join paid as p
        on p.business_id = r.business_id
        and p.payment_date between r.window_start and r.window_end
    inner join first_orders as f
        on f.business_id = p.business_id
        and f.customer_key = p.customer_key
    group by r.business_id, r.window_start, r.window_end
)

select * from final
