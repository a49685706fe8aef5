-- one row per business per day whose follower level is known: the day's snapshot, else the
-- latest snapshot minus the net follows of every day after it (only when all are known: a day
-- whose follows_and_unfollows breakdown is missing has a null net and breaks the chain)
with snapshots as (
    select * from staging.stg_instagram__account_snapshots
),

daily as (
    select * from staging.stg_instagram__daily
),

anchors as (
    select
        business_id,
        max(snapshot_date) as anchor_day,
        arg_max(count_followers, snapshot_date) as anchor_followers
    from snapshots
    group by business_id
),

after_each_day as (
    select
        d.business_id,
        d.day,
        a.anchor_day,
        a.anchor_followers,
        sum(d.net_followers) over later_days as net_after,
        count(d.net_followers) over later_days as count_days_after  -- days whose net change is known
    from daily as d
    inner join anchors as a
        on a.business_id = d.business_id
        and d.day <= a.anchor_day
    window later_days as (
        partition by d.business_id
        order by d.day desc
        rows between unbounded preceding and current row
    )
),

rebuilt as (
    -- level at the end of the day before `day` = anchor level - net follows of day..anchor
    select
        business_id,
        day - 1 as day,
        anchor_followers - net_after as count_followers,
        2 as priority
    from after_each_day
    where count_days_after = anchor_day - day + 1
),

candidates as (
    select business_id, snapshot_date as day, count_followers, 1 as priority from snapshots
    union all
    select * from rebuilt
),

final as (
    select business_id, day, arg_min(count_followers, priority) as count_followers
    from candidates
    group by business_id, day
)

select * from final
