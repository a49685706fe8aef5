-- one row per day per session default channel group, plus channel '(all)' for the whole site
with traffic as (
    select * from raw.ga4__traffic_daily
),

final as (
    select
        business_id,
        date as day,
        channel,
        channel = '(all)' as is_all_channels,
        sessions as count_sessions,
        total_users as count_users,
        new_users as count_new_users,
        engaged_sessions as count_engaged_sessions,
        key_events as count_key_events
    from traffic
)

select * from final
