-- one row per ad campaign per account-local day, Meta and Google Ads alike: impressions, link
-- clicks and spend, the campaign shown as "network / latest name" (the ad KPIs of catalog.yml
-- count from it in total, per network and per campaign)
with meta_ads as (
    select * from staging.stg_meta_ads__campaign_days
),

google_ads as (
    select * from staging.stg_google_ads__campaign_days
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

final as (
    select d.business_id, d.day, d.network, l.campaign,
           d.count_impressions, d.count_clicks, d.amount_spend
    from campaign_days as d
    inner join campaign_labels as l
        on l.business_id = d.business_id
        and l.network = d.network
        and l.campaign_id = d.campaign_id
)

select * from final
