-- one row per line of a paid Stripe invoice: product, quantity and amount in the business currency
-- (the invoice currency's units, times the kpi.yaml rate for an invoice in another currency)
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

rates as (
    select * from staging.stg_settings__fx_rates
),

final as (
    select
        l.business_id,
        l.invoice_id,
        l.charge_id,
        l.created_date as payment_date,
        l.line.product as product_id,
        l.line.name as product_name,
        l.line.quantity as quantity,
        (l.line.amount::decimal(18, 2) / l.minor_units * coalesce(r.rate, 1))::decimal(18, 2) as amount
    from lines as l
    left join rates as r
        on r.business_id = l.business_id
        and r.currency = upper(l.currency)
    where l.status = 'paid'
)

select * from final
