{#-
    One row per live business evaluation: the professional-tier figures the dashboards aggregate,
    read out of the `professional_data` jsonb (`financialMetrics`, `customerAnalytics`) as
    numbers. A figure that is missing or not a JSON number gives null, so a malformed payload
    never fails a build.
-#}

with

evaluations as (

    select * from {{ ref('stg_evaluations__business_evaluations') }}

),

sections as (

    select
        evaluation_id,
        tenant_id,
        user_id,
        subscription_tier,
        status,
        professional_data -> 'financialMetrics' as financial_metrics,
        professional_data -> 'customerAnalytics' as customer_analytics,
        created_at,
        updated_at

    from evaluations

),

extracted as (

    select
        evaluation_id,
        tenant_id,
        user_id,
        subscription_tier,
        status,
        {{ jsonb_number('financial_metrics', 'annualRevenue') }} as annual_revenue,
        {{ jsonb_number('financial_metrics', 'netProfit') }} as net_profit,
        {{ jsonb_number('financial_metrics', 'ebitda') }} as ebitda,
        {{ jsonb_number('customer_analytics', 'customerLifetimeValue') }}
            as customer_lifetime_value,
        {{ jsonb_number('customer_analytics', 'churnRate') }} as churn_rate,
        {{ jsonb_number('customer_analytics', 'nps') }} as net_promoter_score,
        {{ jsonb_number('customer_analytics', 'retentionRate') }} as retention_rate,
        financial_metrics is not null as has_financial_metrics,
        customer_analytics is not null as has_customer_analytics,
        created_at,
        updated_at

    from sections

)

select * from extracted
