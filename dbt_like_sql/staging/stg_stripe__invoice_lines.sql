-- one row per line of a paid Stripe invoice: product, quantity and amount in currency units
with invoices as (
    select * from raw.stripe__invoices
),

lines as (
    select
        business_id,
        invoice_id,
        charge_id,
        created_date,
        currency,
        minor_units,
        status,
        unnest(from_json(lines, '[{"product": "VARCHAR", "name": "VARCHAR", "amount": "BIGINT", "quantity": "BIGINT"}]'))
            as line
    from invoices
),

final as (
    select
        business_id,
        invoice_id,
        charge_id,
        created_date as payment_date,
        line.product as product_id,
        line.name as product_name,
        line.quantity as quantity,
        (line.amount::decimal(18, 2) / minor_units)::decimal(18, 2) as amount
    from lines
    where status = 'paid'
)

select * from final
