-- one row per Google Ads campaign per day (account's timezone); cost converted from micros
with campaigns as (
    select * from raw.google_ads__campaign_daily
),

final as (
    select
        business_id,
        date as day,
        'google' as network,
        campaign_id,
        campaign_name,
        impressions as count_impressions,
        clicks as count_clicks,
        (cost_micros::decimal(18, 0) / 1000000)::decimal(18, 6) as amount_spend,
        conversions as count_conversions
    from campaigns
)

select * from final
