-- one row per CRM contact: its lead date (the first day it entered any of the stages listed in
-- sources.hubspot.lead_stages, kept by HubSpot after it moves on), its current stage and the
-- salted key of its e-mail; a lead who becomes a customer stays a lead of its lead date
with contacts as (
    select * from raw.hubspot__contacts
),

lead_stages as (
    select business_id, value as stage from kpis.parameters where name = 'lead_stage'
),

lead_dates as (
    select
        c.business_id,
        c.contact_id,
        min(try_cast(json_extract_string(c.stage_dates, '$.' || s.stage) as date)) as lead_date
    from contacts as c
    inner join lead_stages as s on s.business_id = c.business_id
    group by c.business_id, c.contact_id
),

final as (
    select
        c.business_id,
        c.contact_id,
        c.created_date,
        c.lifecycle_stage,
        l.lead_date,
        l.lead_date is not null as is_lead,
        c.person_key
    from contacts as c
    left join lead_dates as l
        on l.business_id = c.business_id
        and l.contact_id = c.contact_id
)

select * from final
