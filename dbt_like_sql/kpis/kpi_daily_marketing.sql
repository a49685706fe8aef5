-- one row per marketing KPI per business-local day per dimension value (null = the total):
-- website sessions and traffic share by channel, ads by network and campaign, Instagram
with traffic as (
    select * from staging.stg_ga4__traffic_daily
),

meta_ads as (
    select * from staging.stg_meta_ads__campaign_days
),

google_ads as (
    select * from staging.stg_google_ads__campaign_days
),

instagram as (
    select * from staging.stg_instagram__daily
),

instagram_levels as (
    select * from kpis.instagram_follower_levels
),

site_days as (
    select business_id, day, count_sessions from traffic where is_all_channels
),

channel_days as (
    select business_id, day, channel, count_sessions from traffic where not is_all_channels
),

channel_shares as (
    -- every channel on every day of the site, 0 sessions where it brought none: a period's share
    -- divides by all of the period's sessions, not only those of the days the channel appears
    select s.business_id, s.day, ch.channel, coalesce(c.count_sessions, 0) as count_sessions,
           s.count_sessions as count_site_sessions
    from site_days as s
    inner join (select distinct business_id, channel from channel_days) as ch on ch.business_id = s.business_id
    left join channel_days as c
        on c.business_id = s.business_id and c.day = s.day and c.channel = ch.channel
),

campaign_days as (
    select business_id, day, network, campaign_id, campaign_name,
           count_impressions, count_clicks, amount_spend
    from meta_ads
    union all
    select business_id, day, network, campaign_id, campaign_name,
           count_impressions, count_clicks, amount_spend
    from google_ads
),

campaigns as (
    -- staging names each campaign id after its latest name
    select distinct business_id, network, campaign_id, campaign_name from campaign_days
),

campaign_labels as (
    -- a campaign is its platform id, shown as "network / latest name"; two campaigns sharing a
    -- name keep apart by their id
    select business_id, network, campaign_id,
           network || ' / ' || campaign_name || case
               when count(*) over (partition by business_id, network, campaign_name) > 1
                   then ' (' || campaign_id || ')'
               else ''
           end as campaign
    from campaigns
),

ad_days as (
    select d.business_id, d.day, d.network, l.campaign,
           d.count_impressions, d.count_clicks, d.amount_spend
    from campaign_days as d
    inner join campaign_labels as l
        on l.business_id = d.business_id
        and l.network = d.network
        and l.campaign_id = d.campaign_id
),

ad_facts as (
    -- each ad KPI once in total, once per network, once per campaign
    select business_id, day, null as dimension, null as dimension_value,
           sum(count_impressions) as impressions, sum(count_clicks) as clicks, sum(amount_spend) as spend
    from ad_days group by business_id, day
    union all
    select business_id, day, 'network', network,
           sum(count_impressions), sum(count_clicks), sum(amount_spend)
    from ad_days group by business_id, day, network
    union all
    select business_id, day, 'campaign', campaign,
           sum(count_impressions), sum(count_clicks), sum(amount_spend)
    from ad_days group by business_id, day, campaign
),

final as (
    select business_id, 'website_sessions' as kpi_id, day, null as dimension, null as dimension_value,
           count_sessions::double as numerator, null::double as denominator
    from site_days
    union all
    select business_id, 'website_sessions', day, 'channel', channel, count_sessions, null from channel_days
    union all
    select business_id, 'traffic_share', day, 'channel', channel, count_sessions, count_site_sessions
    from channel_shares
    union all
    select business_id, 'ad_impressions', day, dimension, dimension_value, impressions, null from ad_facts
    union all
    select business_id, 'ad_clicks', day, dimension, dimension_value, clicks, null from ad_facts
    union all
    select business_id, 'ad_spend', day, dimension, dimension_value, spend, null from ad_facts
    union all
    select business_id, 'ad_ctr', day, dimension, dimension_value, clicks, impressions from ad_facts
    union all
    select business_id, 'ad_cpc', day, dimension, dimension_value, spend, clicks from ad_facts
    union all
    -- a day whose follows are unknown has no row (these KPIs are dense: its periods get no value)
    select business_id, 'instagram_new_followers', day, null, null, count_follows, null from instagram
    where count_follows is not null
    union all
    select business_id, 'instagram_follower_growth_rate', day, null, null, net_followers, null from instagram
    where net_followers is not null
    union all
    select business_id, 'instagram_followers', day, null, null, count_followers, null from instagram_levels
)

select
    business_id,
    kpi_id,
    day,
    dimension::varchar as dimension,
    dimension_value::varchar as dimension_value,
    numerator::decimal(38, 6) as numerator,      -- exact: sums do not depend on row order
    denominator::decimal(38, 6) as denominator
from final
