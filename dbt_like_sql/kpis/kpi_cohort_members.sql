-- one row per conversion cohort KPI per business-local member day per conversion age: how many of
-- that day's leads (lead_conversion_rate, by lead date) or intro calls (call_conversion_rate, by
-- meeting date) saw their person's first order conversion_days later (0 = the same day), within
-- conversion_window_days; conversion_days is null for members not (or not yet) converted within
-- the window. kpi_daily counts the cohorts from it (their formulas in catalog.yml), and the
-- scorecard learns from its matured members how conversions accrue with age
-- (README.md#what-the-numbers-mean, "Conversions are cohorts")
with charges as (
    select * from staging.stg_stripe__charges
),

events as (
    select * from staging.stg_calendly__events
),

invitees as (
    select * from staging.stg_calendly__invitees
),

contacts as (
    select * from staging.stg_hubspot__contacts
),

settings as (
    select business_id, value::integer as window_days
    from kpis.parameters
    where name = 'conversion_window_days'
),

first_purchases as (
    -- the same person across platforms: the first order of each salted e-mail key (fully
    -- refunded charges are no orders)
    select business_id, person_key, min(payment_date) as first_payment_date
    from charges
    where is_order and person_key is not null
    group by business_id, person_key
),

call_conversions as (
    -- an intro call converts when one of its invitees placed a first order within the window
    select i.business_id, i.event_uri, min(f.first_payment_date - i.meeting_date) as conversion_days
    from invitees as i
    inner join first_purchases as f
        on f.business_id = i.business_id
        and f.person_key = i.person_key
    inner join settings as s on s.business_id = i.business_id
    where f.first_payment_date between i.meeting_date and i.meeting_date + s.window_days
    group by i.business_id, i.event_uri
),

calls as (
    select e.business_id, e.meeting_date as day, v.conversion_days
    from events as e
    left join call_conversions as v
        on v.business_id = e.business_id
        and v.event_uri = e.event_uri
    where e.is_intro_call and e.is_active
),

leads as (
    select
        l.business_id,
        l.lead_date as day,
        case
            when f.first_payment_date between l.lead_date and l.lead_date + s.window_days
                then f.first_payment_date - l.lead_date
        end as conversion_days
    from contacts as l
    inner join settings as s on s.business_id = l.business_id
    left join first_purchases as f
        on f.business_id = l.business_id
        and f.person_key = l.person_key
    where l.is_lead
),

final as (
    select business_id, 'lead_conversion_rate' as kpi_id, day, conversion_days from leads
    union all
    select business_id, 'call_conversion_rate', day, conversion_days from calls
)

select business_id, kpi_id, day, conversion_days::integer as conversion_days, count(*) as members
from final
group by all
