-- one row per Google Ads campaign per day (account's timezone); cost converted from micros into
-- the business currency (the account currency times kpi.yaml's fx rate when they differ)
with campaigns as (
    select * from raw.google_ads__campaign_daily
),

rates as (
    select * from staging.stg_settings__fx_rates
),

latest_names as (
    -- Google Ads reports a campaign's current name for every past day, so days fetched before and
    -- after a rename disagree: one campaign id, one name, the one of its latest sync (latest day)
    select business_id, campaign_id, campaign_name
    from campaigns
    qualify row_number() over (
        partition by business_id, campaign_id order by _synced_at desc, date desc
    ) = 1
),

final as (
    select
        c.business_id,
        c.date as day,
        'google' as network,
        c.campaign_id,
        n.campaign_name,                         -- the latest name, on every day
        c.impressions as count_impressions,
        c.clicks as count_clicks,
        (c.cost_micros::decimal(18, 0) / 1000000 * coalesce(r.rate, 1))::decimal(18, 6) as amount_spend,
        c.conversions as count_conversions
    from campaigns as c
    inner join latest_names as n
        on n.business_id = c.business_id
        and n.campaign_id = c.campaign_id
    left join rates as r
        on r.business_id = c.business_id
        and r.currency = upper(c.account_currency)
)

select * from final
