-- one row per newsletter KPI per business-local day: the day's numerator and denominator
-- (campaign metrics count on the send date; levels on the day they stand for)
with activity as (
    select * from staging.stg_mailchimp__list_activity
),

campaigns as (
    select * from staging.stg_mailchimp__campaigns
),

levels as (
    select * from kpis.newsletter_subscriber_levels
),

engagement as (
    select * from staging.stg_mailchimp__member_engagement
),

activity_days as (
    select
        business_id,
        day,
        sum(count_added) as count_added,
        sum(unsubs) as count_unsubscribed,
        sum(count_lost) as count_lost,
        sum(net_change) as net_change
    from activity
    group by business_id, day
),

campaign_days as (
    select
        business_id,
        send_date as day,
        sum(count_delivered) as count_delivered,
        sum(count_unique_opens) as count_unique_opens,
        sum(count_unique_clicks) as count_unique_clicks
    from campaigns
    group by business_id, send_date
),

final as (
    select business_id, 'newsletter_new_subscribers' as kpi_id, day, count_added::double as numerator, null::double as denominator from activity_days
    union all
    select business_id, 'newsletter_unsubscribes', day, count_unsubscribed, null from activity_days
    union all
    select business_id, 'newsletter_net_growth', day, net_change, null from activity_days
    union all
    select business_id, 'newsletter_churn_rate', day, count_lost, null from activity_days
    union all
    select business_id, 'email_open_rate', day, count_unique_opens, count_delivered from campaign_days
    union all
    select business_id, 'email_click_rate', day, count_unique_clicks, count_delivered from campaign_days
    union all
    select business_id, 'email_click_to_open_rate', day, count_unique_clicks, count_unique_opens from campaign_days
    union all
    select business_id, 'newsletter_subscribers', day, count_subscribed, null from levels
    union all
    select business_id, 'newsletter_cold_subscriber_share', snapshot_date, count_cold, count_subscribed from engagement
)

select
    business_id,
    kpi_id,
    day,
    null::varchar as dimension,
    null::varchar as dimension_value,
    numerator::decimal(38, 6) as numerator,      -- exact: sums do not depend on row order
    denominator::decimal(38, 6) as denominator
from final
