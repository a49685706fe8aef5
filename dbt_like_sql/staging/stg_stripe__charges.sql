-- one row per Stripe charge, on its payment date in the business timezone: who paid (customer_key:
-- the Stripe customer, else a guest's billing e-mail key, else the charge itself), the person
-- behind it (person_key, to follow leads and callers), and whether it is an order (succeeded and
-- not fully refunded, counting refunds settled however long after the charge); the amount is in
-- the charge's own currency (revenue comes from balance transactions, in the business currency)
with charges as (
    select * from raw.stripe__charges
),

customers as (
    select * from raw.stripe__customers
),

refunds as (
    select business_id, charge_id, sum(source_amount) as amount_refunded
    from raw.stripe__balance_transactions
    where type in ('refund', 'payment_refund')
    group by business_id, charge_id
),

joined as (
    select
        c.*,
        k.person_key as customer_person_key,
        greatest(coalesce(c.amount_refunded, 0), coalesce(r.amount_refunded, 0)) as refunded_minor
    from charges as c
    left join customers as k
        on k.business_id = c.business_id
        and k.customer_id = c.customer_id
    left join refunds as r
        on r.business_id = c.business_id
        and r.charge_id = c.charge_id
),

final as (
    select
        business_id,
        charge_id,
        created_date as payment_date,
        customer_id,
        coalesce(customer_id, 'guest:' || billing_person_key, 'charge:' || charge_id) as customer_key,
        coalesce(customer_person_key, billing_person_key) as person_key,
        invoice_id,
        status,
        status = 'succeeded' as is_succeeded,
        refunded_minor >= amount as is_fully_refunded,
        status = 'succeeded' and refunded_minor < amount as is_order,
        upper(currency) as currency,
        (amount::decimal(18, 2) / minor_units)::decimal(18, 2) as amount,
        (refunded_minor::decimal(18, 2) / minor_units)::decimal(18, 2) as amount_refunded
    from joined
)

select * from final
