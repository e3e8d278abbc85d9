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
        case
            when jsonb_typeof(financial_metrics -> 'annualRevenue') = 'number'
                then (financial_metrics ->> 'annualRevenue')::numeric
        end as annual_revenue,
        case
            when jsonb_typeof(financial_metrics -> 'netProfit') = 'number'
                then (financial_metrics ->> 'netProfit')::numeric
        end as net_profit,
        case
            when jsonb_typeof(financial_metrics -> 'ebitda') = 'number'
                then (financial_metrics ->> 'ebitda')::numeric
        end as ebitda,
        case
            when jsonb_typeof(customer_analytics -> 'customerLifetimeValue') = 'number'
                then (customer_analytics ->> 'customerLifetimeValue')::numeric
        end as customer_lifetime_value,
        case
            when jsonb_typeof(customer_analytics -> 'churnRate') = 'number'
                then (customer_analytics ->> 'churnRate')::numeric
        end as churn_rate,
        case
            when jsonb_typeof(customer_analytics -> 'nps') = 'number'
                then (customer_analytics ->> 'nps')::numeric
        end as net_promoter_score,
        case
            when jsonb_typeof(customer_analytics -> 'retentionRate') = 'number'
                then (customer_analytics ->> 'retentionRate')::numeric
        end as retention_rate,
        financial_metrics is not null as has_financial_metrics,
        customer_analytics is not null as has_customer_analytics,
        created_at,
        updated_at

    from sections

)

select * from extracted
