-- one row per Meta campaign per day (ad account's timezone); money in the account currency
with insights as (
    select * from raw.meta_ads__campaign_insights
),

final as (
    select
        business_id,
        date as day,
        'meta' as network,
        campaign_id,
        campaign_name,
        impressions as count_impressions,
        reach as count_reach,                  -- unique people: never summed across days
        inline_link_clicks as count_clicks,    -- link clicks, comparable with Google Ads clicks
        spend::decimal(18, 6) as amount_spend,
        purchases as count_conversions
    from insights
)

select * from final
