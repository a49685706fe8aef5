-- one row per CRM contact, on its business-local creation date; leads are the lifecycle
-- stages listed in sources.hubspot.lead_stages
with contacts as (
    select * from raw.hubspot__contacts
),

lead_stages as (
    select business_id, value as stage from kpis.parameters where name = 'lead_stage'
),

final as (
    select
        c.business_id,
        c.contact_id,
        c.created_date,
        c.lifecycle_stage,
        exists (
            select 1 from lead_stages as s
            where s.business_id = c.business_id and s.stage = lower(c.lifecycle_stage)
        ) as is_lead
    from contacts as c
)

select * from final
