-- one row per business per snapshot day: subscribed members, and those with no open in the
-- 90 days up to and including that day ("cold")
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
    group by m.business_id, m.snapshot_date
)

select * from final
