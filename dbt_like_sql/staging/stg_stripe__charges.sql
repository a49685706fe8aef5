-- one row per Stripe charge, on its payment date in the business timezone; money in currency
-- units (minor units divided by 100, or taken as they are for zero-decimal currencies)
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
        (amount::decimal(18, 2) / case when lower(currency) in ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw',
            'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf') then 1 else 100 end)::decimal(18, 2) as amount,
        (amount_refunded::decimal(18, 2) / case when lower(currency) in ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf',
            'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf') then 1 else 100 end)::decimal(18, 2)
            as amount_refunded
    from charges
)

select * from final
