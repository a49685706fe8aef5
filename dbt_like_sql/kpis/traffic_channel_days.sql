-- one row per website channel per business-local day of the site: the channel's sessions (0 on a
-- day it brought none) and all of the site's sessions that day, so a period's traffic share
-- divides by all of the period's sessions, not only those of the days the channel appears
with traffic as (
    select * from staging.stg_ga4__traffic_daily
),

site_days as (
    select business_id, day, count_sessions from traffic where is_all_channels
),

channel_days as (
    select business_id, day, channel, count_sessions from traffic where not is_all_channels
),

channels as (
    select distinct business_id, channel from channel_days
),

final as (
    select s.business_id, s.day, ch.channel, coalesce(c.count_sessions, 0) as count_sessions,
           s.count_sessions as count_site_sessions
    from site_days as s
    inner join channels as ch on ch.business_id = s.business_id
    left join channel_days as c
        on c.business_id = s.business_id and c.day = s.day and c.channel = ch.channel
)

select * from final
