-- one row per Meta campaign per day (ad account's timezone); spend in the business currency (the
-- account currency times kpi.yaml's fx rate when they differ; a load without a rate is refused)
with insights as (
    select * from raw.meta_ads__campaign_insights
),

rates as (
    select * from staging.stg_settings__fx_rates
),

latest_names as (
    -- Meta reports a campaign's current name for every past day, so days fetched before and
    -- after a rename disagree: one campaign id, one name, the one of its latest sync (latest day)
    select business_id, campaign_id, campaign_name
    from insights
    qualify row_number() over (
        partition by business_id, campaign_id order by _synced_at desc, date desc
    ) = 1
),

final as (
    select
        i.business_id,
        i.date as day,
        'meta' as network,
        i.campaign_id,
        n.campaign_name,                         -- the latest name, on every day
        i.impressions as count_impressions,
        i.reach as count_reach,                  -- unique people: never summed across days
        i.inline_link_clicks as count_clicks,    -- link clicks, comparable with Google Ads clicks
        (i.spend * coalesce(r.rate, 1))::decimal(18, 6) as amount_spend,
        i.purchases as count_conversions
    from insights as i
    inner join latest_names as n
        on n.business_id = i.business_id
        and n.campaign_id = i.campaign_id
    left join rates as r
        on r.business_id = i.business_id
        and r.currency = upper(i.account_currency)
)

select * from final
