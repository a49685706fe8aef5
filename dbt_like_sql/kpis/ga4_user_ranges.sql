-- one row per exact date range per website channel ('(all)': the whole site): unique visitors as
-- GA4 counted them for that range (days from the daily report, longer ranges asked exactly)
with ranges as (
    select * from staging.stg_ga4__users_by_range
),

traffic as (
    select * from staging.stg_ga4__traffic_daily
),

candidates as (
    select business_id, start_date, end_date, channel, count_users, 1 as priority from ranges
    union all
    select business_id, day, day, channel, count_users, 2 as priority from traffic
),

final as (
    -- a one-day range can come from both reports (a week open for one day): keep one
    select business_id, start_date as window_start, end_date as window_end, channel,
           arg_min(count_users, priority) as count_users
    from candidates
    group by business_id, start_date, end_date, channel
)

select * from final
