-- one row per audience per month; subscribed is the stock on stock_date (month end, or as-of)
with history as (
    select * from raw.mailchimp__growth_history
),

final as (
    select
        business_id,
        list_id,
        month as month_start,
        stock_date,
        subscribed as count_subscribed,
        unsubscribed as count_unsubscribed,
        cleaned as count_cleaned,
        stock_date = last_day(month) as is_month_end
    from history
)

select * from final
