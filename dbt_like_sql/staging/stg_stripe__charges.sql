-- one row per Stripe charge, on its payment date in the business timezone; money in currency
-- units (minor units divided by the currency's factor: 100, or 1 for zero-decimal currencies)
with charges as (
    select * from raw.stripe__charges
),

final as (
    select
        business_id,
        charge_id,
        created_date as payment_date,
        customer_id,
        invoice_id,
        status,
        status = 'succeeded' as is_succeeded,
        upper(currency) as currency,
        (amount::decimal(18, 2) / minor_units)::decimal(18, 2) as amount,
        (amount_refunded::decimal(18, 2) / minor_units)::decimal(18, 2) as amount_refunded
    from charges
)

select * from final
