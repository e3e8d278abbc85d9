{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_user_evaluation_list: the same user's live evaluations read from the source
-- table (served by the source's idx_business_evaluations_user_tier), same order and limit.

select
    evaluations.id as evaluation_id,
    evaluations.subscription_tier,
    evaluations.business_data,
    evaluations.professional_data -> 'financialMetrics' as financial_metrics,
    evaluations.professional_data -> 'customerAnalytics' as customer_analytics,
    evaluations.health_score,
    evaluations.status,
    evaluations.created_at
from {{ source('evaluations', 'business_evaluations') }} as evaluations
where
    evaluations.user_id = (
        select picked.user_id
        from {{ source('evaluations', 'business_evaluations') }} as picked
        where
            picked.deleted_at is null
            and picked.subscription_tier = 'professional'
        order by picked.id
        limit 1
    )
    and evaluations.deleted_at is null
order by
    evaluations.subscription_tier desc,
    evaluations.created_at desc,
    evaluations.id asc
limit 20
