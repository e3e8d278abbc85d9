{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_single_evaluation_fetch: the same evaluation read from the source table,
-- live rows only, picked the same way (lowest id among live professional and enterprise rows).

with

picked as (

    select
        business_evaluations.id as evaluation_id,
        business_evaluations.user_id
    from {{ source('evaluations', 'business_evaluations') }} as business_evaluations
    where
        business_evaluations.deleted_at is null
        and business_evaluations.subscription_tier in ('professional', 'enterprise')
    order by business_evaluations.id
    limit 1

)

select
    evaluations.id as evaluation_id,
    evaluations.business_data,
    evaluations.professional_data,
    evaluations.valuations,
    evaluations.health_score,
    evaluations.confidence_score,
    evaluations.opportunities,
    evaluations.status,
    evaluations.subscription_tier,
    evaluations.analysis_depth,
    evaluations.data_version,
    evaluations.created_at,
    evaluations.updated_at
from {{ source('evaluations', 'business_evaluations') }} as evaluations
inner join picked
    on
        evaluations.id = picked.evaluation_id
        and evaluations.user_id = picked.user_id
where
    evaluations.deleted_at is null
    and evaluations.subscription_tier in ('professional', 'enterprise')
