-- one row per invitee of a scheduled meeting, on the meeting's business-local date: the salted
-- key of who booked (person_key), never the address
with invitees as (
    select * from raw.calendly__invitees
),

final as (
    select
        business_id,
        invitee_uri,
        event_uri,
        start_date as meeting_date,
        status,
        status = 'active' as is_active,
        person_key
    from invitees
)

select * from final
