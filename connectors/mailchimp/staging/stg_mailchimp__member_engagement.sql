-- one row per business per snapshot day: subscribed members on the list for 90 days or more
-- (opted in 90+ days before, or before opt-in dates were recorded), and those of them with no
-- open in the 90 days up to and including that day ("cold"); newer members cannot be cold yet
with members as (
    select * from raw.mailchimp__members
),

opens as (
    select * from raw.mailchimp__campaign_opens
),

recent_openers as (
    select distinct
        m.business_id,
        m.snapshot_date,
        m.member_id
    from members as m
    inner join opens as o
        on o.business_id = m.business_id
        and o.member_id = m.member_id
        and o.send_date <= m.snapshot_date
        and len(list_filter(o.open_dates, lambda d: d between m.snapshot_date - 89 and m.snapshot_date)) > 0
),

final as (
    select
        m.business_id,
        m.snapshot_date,
        count(*) as count_subscribed,
        count(*) filter (where r.member_id is null) as count_cold
    from members as m
    left join recent_openers as r
        on r.business_id = m.business_id
        and r.snapshot_date = m.snapshot_date
        and r.member_id = m.member_id
    where m.status = 'subscribed'
        and (m.opt_in_date is null or m.opt_in_date <= m.snapshot_date - 90)
    group by m.business_id, m.snapshot_date
)

select * from final
