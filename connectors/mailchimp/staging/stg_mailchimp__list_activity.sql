-- one row per audience per business-local day (Mailchimp serves the previous 180 days)
with activity as (
    select * from raw.mailchimp__list_activity
),

final as (
    select
        business_id,
        list_id,
        day,
        emails_sent,
        hard_bounce,
        soft_bounce,
        unique_opens,
        recipient_clicks,
        subs,
        other_adds,
        unsubs,
        other_removes,
        subs + other_adds as count_added,
        unsubs + other_removes as count_lost,
        subs + other_adds - unsubs - other_removes as net_change
    from activity
)

select * from final
