-- one row per exact date range per channel ('(all)' = the whole site): unique users as GA4
-- counts them for that range; a range fetched more than once keeps its latest figure
with periods as (
    select business_id, start_date, end_date, channel, total_users, _synced_at, 1 as priority
    from raw.ga4__users_by_period
),

comparisons as (
    select business_id, start_date, end_date, channel, total_users, _synced_at, 2 as priority
    from raw.ga4__users_comparisons
),

ranges as (
    select * from periods
    union all
    select * from comparisons
),

final as (
    select
        business_id,
        start_date,
        end_date,
        channel,
        arg_min(total_users, (priority, epoch(_synced_at) * -1)) as count_users
    from ranges
    group by business_id, start_date, end_date, channel
)

select * from final
