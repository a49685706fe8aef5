-- one row per customer (a person: a guest who later opens an account is one): the business-local
-- day of their first order (fully refunded charges and returned debits are no orders)
with charges as (
    select * from staging.stg_stripe__charges
),

final as (
    select business_id, customer_key, min(payment_date) as first_payment_date
    from charges
    where is_order
    group by business_id, customer_key
)

select * from final
