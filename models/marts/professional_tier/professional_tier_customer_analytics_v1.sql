{#-
    The specification's customer analytics aggregation, precomputed: one row per user with the
    averages of the customer analytics of their live professional and enterprise evaluations.
-#}

with

evaluation_metrics as (

    select * from {{ ref('int_evaluations_metrics_extracted') }}

),

customer_evaluations as (

    select * from evaluation_metrics
    where
        subscription_tier in ('professional', 'enterprise')
        and has_customer_analytics

),

per_user as (

    select
        user_id,
        tenant_id,
        count(*) as evaluation_count,
        round(avg(customer_lifetime_value), 2) as avg_clv,
        round(avg(churn_rate), 4) as avg_churn_rate,
        round(avg(net_promoter_score), 1) as avg_nps,
        round(avg(retention_rate), 4) as avg_retention_rate,
        min(created_at) as first_evaluation_at,
        max(created_at) as latest_evaluation_at,
        current_timestamp as last_refreshed

    from customer_evaluations
    group by user_id, tenant_id

)

select * from per_user
