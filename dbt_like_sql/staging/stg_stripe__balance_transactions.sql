-- one row per Stripe balance transaction: the money a charge brought or a refund took back, on
-- its own business-local date, in the business currency (settled minor units / the currency's
-- factor, times the kpi.yaml rate when the account settles in another currency; a load in a
-- currency without a rate is refused, so amounts in two currencies are never added up)
with transactions as (
    select * from raw.stripe__balance_transactions
),

rates as (
    select * from staging.stg_settings__fx_rates
),

final as (
    select
        t.business_id,
        t.transaction_id,
        t.created_date as day,
        t.type,
        t.charge_id,
        upper(t.currency) as currency,
        (t.amount::decimal(18, 2) / t.minor_units * coalesce(r.rate, 1))::decimal(18, 2) as amount,
        t.source_amount,
        upper(t.source_currency) as source_currency
    from transactions as t
    left join rates as r
        on r.business_id = t.business_id
        and r.currency = upper(t.currency)
)

select * from final
