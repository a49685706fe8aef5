-- one row per audience per day on which the pipeline took a snapshot of the list stats
with lists as (
    select * from raw.mailchimp__lists
),

final as (
    select
        business_id,
        list_id,
        snapshot_date,
        name as list_name,
        member_count as count_subscribed,
        open_rate / 100.0 as list_open_rate,      -- list-level rates arrive on a 0-100 scale
        click_rate / 100.0 as list_click_rate
    from lists
)

select * from final
