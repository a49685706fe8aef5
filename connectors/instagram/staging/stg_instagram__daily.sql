-- one row per business-local day loaded from Instagram: follows, unfollows, reach and profile
-- views of the account. follows/unfollows are 0 on a day without any (Instagram leaves that side
-- out of the breakdown) and null when the day came without a follows_and_unfollows breakdown:
-- then net_followers is null too (unknown, never 0); follower_count fills new follows it knows
with totals as (
    select * from raw.instagram__daily_totals
),

follower_count as (
    select * from raw.instagram__follower_count
),

final as (
    select
        t.business_id,
        t.day,
        coalesce(f.new_followers, t.follows) as count_follows,
        t.unfollows as count_unfollows,
        coalesce(f.new_followers, t.follows) - t.unfollows as net_followers,
        t.reach as count_reach,
        t.profile_views as count_profile_views
    from totals as t
    left join follower_count as f
        on f.business_id = t.business_id
        and f.day = t.day
)

select * from final
