-- one row per Stripe balance transaction: the money a charge brought or what took it back (a
-- refund, a debit the bank returned, a dispute or its reversal, a failed refund), on its own
-- business-local date, in the business currency (settled minor units / the currency's factor,
-- times the kpi.yaml rate when the account settles in another currency; a load in a currency
-- without a rate is refused, so amounts in two currencies are never added up)
with transactions as (
    select * from raw.stripe__balance_transactions
),

rates as (
    select * from staging.stg_settings__fx_rates
),

categorised as (
    -- Stripe's reporting_category; rows loaded before it was kept read it from type (a dispute
    -- and its reversal are both type adjustment with a dispute as source: the sign tells them apart)
    select
        *,
        coalesce(reporting_category, case
            when type in ('charge', 'payment') then 'charge'
            when type in ('refund', 'payment_refund') then 'refund'
            when type in ('payment_failure_refund', 'payment_reversal') then 'charge_failure'
            when type = 'refund_failure' then 'refund_failure'
            when type = 'adjustment' and source_object = 'dispute' and amount < 0 then 'dispute'
            when type = 'adjustment' and source_object = 'dispute' then 'dispute_reversal'
            else type
        end) as category
    from transactions
),

final as (
    select
        t.business_id,
        t.transaction_id,
        t.created_date as day,
        t.type,
        t.category as reporting_category,
        -- a sale's money: the charge and everything that takes it back (fees, payouts and
        -- transfers are not sales)
        t.category in ('charge', 'refund', 'charge_failure', 'refund_failure', 'dispute', 'dispute_reversal',
                       'partial_capture_reversal')
            or t.type in ('charge', 'payment', 'refund', 'payment_refund', 'payment_failure_refund',
                          'payment_reversal', 'refund_failure') as is_sale,
        t.charge_id,
        upper(t.currency) as currency,
        (t.amount::decimal(18, 2) / t.minor_units * coalesce(r.rate, 1))::decimal(18, 2) as amount,
        t.source_amount,
        upper(t.source_currency) as source_currency
    from categorised as t
    left join rates as r
        on r.business_id = t.business_id
        and r.currency = upper(t.currency)
)

select * from final
