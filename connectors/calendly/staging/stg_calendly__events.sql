-- one row per scheduled meeting, on its business-local start date; intro calls are the meetings
-- whose event name is one listed in sources.calendly.intro_call_event_types: the whole name,
-- case-insensitive and trimmed, never a part of it ("follow-up na intro call" is not "intro call")
with events as (
    select * from raw.calendly__scheduled_events
),

intro_types as (
    select business_id, value as event_type from kpis.parameters where name = 'intro_call_event_type'
),

final as (
    select
        e.business_id,
        e.event_uri,
        e.start_date as meeting_date,
        e.name as event_name,
        e.status,
        e.status = 'active' as is_active,
        exists (
            select 1 from intro_types as t
            where t.business_id = e.business_id and lower(trim(e.name)) = t.event_type
        ) as is_intro_call
    from events as e
)

select * from final
