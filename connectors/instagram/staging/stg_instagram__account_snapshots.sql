-- one row per day on which the pipeline recorded the account's followers_count
with account as (
    select * from raw.instagram__account
),

final as (
    select
        business_id,
        snapshot_date,
        followers_count as count_followers
    from account
)

select * from final
