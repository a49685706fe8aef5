-- one row per sent campaign, dated by its send date in the business timezone
with reports as (
    select * from raw.mailchimp__campaign_reports
),

final as (
    select
        business_id,
        campaign_id,
        list_id,
        campaign_title,
        send_time,
        send_date,
        emails_sent,
        hard_bounces,
        soft_bounces,
        emails_sent - hard_bounces - soft_bounces as count_delivered,
        unique_opens as count_unique_opens,
        unique_subscriber_clicks as count_unique_clicks,
        unsubscribed as count_unsubscribed
    from reports
)

select * from final
