-- one row per Stripe charge, on its payment date in the business timezone: who paid (customer_key:
-- the person behind it, by the salted e-mail key of the Stripe customer or else of the billing
-- e-mail, so a guest who later opens an account is one customer; without an e-mail the Stripe
-- customer, else the charge itself), that person (person_key, to follow leads and callers), and
-- whether it is an order (succeeded, not returned by the bank and not fully refunded, counting
-- refunds and returns settled however long after the charge); the amount is in the charge's own
-- currency (revenue comes from balance transactions, in the business currency)
with charges as (
    select * from raw.stripe__charges
),

customers as (
    select * from raw.stripe__customers
),

taken_back as (
    -- refunds less those that failed (in the charge's currency), and whether the bank returned the
    -- debit; Stripe's reporting_category, else (rows loaded before it was kept) the type
    select
        business_id,
        charge_id,
        sum(case
            when coalesce(reporting_category, type) in ('refund', 'payment_refund') then source_amount
            when coalesce(reporting_category, type) = 'refund_failure' then -source_amount
            else 0
        end) as amount_refunded,
        bool_or(coalesce(reporting_category, type) in ('charge_failure', 'payment_failure_refund', 'payment_reversal'))
            as is_returned
    from raw.stripe__balance_transactions
    group by business_id, charge_id
),

joined as (
    select
        c.*,
        k.person_key as customer_person_key,
        greatest(coalesce(c.amount_refunded, 0), coalesce(r.amount_refunded, 0)) as refunded_minor,
        coalesce(r.is_returned, false) as is_returned
    from charges as c
    left join customers as k
        on k.business_id = c.business_id
        and k.customer_id = c.customer_id
    left join taken_back as r
        on r.business_id = c.business_id
        and r.charge_id = c.charge_id
),

final as (
    select
        business_id,
        charge_id,
        created_date as payment_date,
        customer_id,
        coalesce('person:' || coalesce(customer_person_key, billing_person_key), customer_id,
                 'charge:' || charge_id) as customer_key,
        coalesce(customer_person_key, billing_person_key) as person_key,
        invoice_id,
        status,
        status = 'succeeded' as is_succeeded,
        refunded_minor >= amount as is_fully_refunded,
        is_returned,
        status = 'succeeded' and not is_returned and refunded_minor < amount as is_order,
        upper(currency) as currency,
        (amount::decimal(18, 2) / minor_units)::decimal(18, 2) as amount,
        (refunded_minor::decimal(18, 2) / minor_units)::decimal(18, 2) as amount_refunded
    from joined
)

select * from final
