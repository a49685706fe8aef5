-- one row per business per day for which the subscriber level is known: subscribed contacts
-- at the end of the day. Best source first: the day's list snapshot, then the month-end stock of
-- growth history, then the previous month-end stock plus the day-by-day net change of list
-- activity (only for months whose activity is complete from their first day).
with activity as (
    select * from staging.stg_mailchimp__list_activity
),

growth as (
    select * from staging.stg_mailchimp__growth_history
),

list_snapshots as (
    select * from staging.stg_mailchimp__list_snapshots
),

audiences as (
    select business_id, count(distinct list_id) as count_lists
    from growth
    group by business_id
),

month_openings as (
    select
        business_id,
        list_id,
        (month_start + interval 1 month)::date as month_start,
        count_subscribed as count_opening
    from growth
    where is_month_end
),

rebuilt as (
    select
        a.business_id,
        a.list_id,
        a.day,
        o.count_opening + sum(a.net_change) over month_so_far as count_subscribed,
        count(*) over month_so_far as count_days_seen
    from activity as a
    inner join month_openings as o
        on o.business_id = a.business_id
        and o.list_id = a.list_id
        and o.month_start = date_trunc('month', a.day)::date
    window month_so_far as (
        partition by a.business_id, a.list_id, date_trunc('month', a.day)
        order by a.day
        rows between unbounded preceding and current row
    )
),

candidates as (
    select business_id, list_id, snapshot_date as day, count_subscribed, 1 as priority
    from list_snapshots
    union all
    select business_id, list_id, stock_date as day, count_subscribed, 2 as priority
    from growth
    where stock_date is not null
    union all
    select business_id, list_id, day, count_subscribed, 3 as priority
    from rebuilt
    where count_days_seen = day(day)
),

best_per_list as (
    select business_id, list_id, day, arg_min(count_subscribed, priority) as count_subscribed
    from candidates
    group by business_id, list_id, day
),

final as (
    select
        b.business_id,
        b.day,
        sum(b.count_subscribed) as count_subscribed
    from best_per_list as b
    inner join audiences as a on a.business_id = b.business_id
    group by b.business_id, b.day, a.count_lists
    having count(*) = a.count_lists
)

select * from final
