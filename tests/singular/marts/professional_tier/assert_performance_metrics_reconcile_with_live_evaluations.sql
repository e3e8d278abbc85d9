{{ config(meta={'dagster': {'ref': {
    'name': 'professional_tier_performance_metrics', 'version': 1
}}}) }}

-- professional_tier_performance_metrics counts exactly the live evaluations
-- (stg_evaluations__business_evaluations) created in the 7 days before its last refresh, per
-- tenant, hour and tier - evaluations and those with professional data (the refresh time is the
-- view's last refresh in the refresh log). Fails with one row per
-- (tenant, hour, tier) where the view and the evaluations disagree.

with

metrics as (

    select * from {{ ref('professional_tier_performance_metrics') }}

),

evaluations as (

    select * from {{ ref('stg_evaluations__business_evaluations') }}

),

refresh as (

    select
        {{ value_view_last_refreshed(ref('professional_tier_performance_metrics')) }}
            as refreshed_at

),

expected as (

    select
        evaluations.tenant_id,
        date_trunc('hour', evaluations.created_at) as hour,
        evaluations.subscription_tier,
        count(*) as evaluation_count,
        count(evaluations.professional_data) as professional_data_count
    from evaluations
    cross join refresh
    where
        evaluations.created_at > refresh.refreshed_at - interval '7 days'
        and evaluations.created_at <= refresh.refreshed_at
    group by
        evaluations.tenant_id,
        date_trunc('hour', evaluations.created_at),
        evaluations.subscription_tier

),

compared as (

    select
        coalesce(metrics.tenant_id, expected.tenant_id) as tenant_id,
        coalesce(metrics.hour, expected.hour) as hour,
        coalesce(metrics.subscription_tier, expected.subscription_tier) as subscription_tier,
        metrics.evaluation_count,
        expected.evaluation_count as expected_evaluation_count,
        metrics.professional_data_count,
        expected.professional_data_count as expected_professional_data_count
    from metrics
    full outer join expected
        on
            metrics.tenant_id = expected.tenant_id
            and metrics.hour = expected.hour
            and metrics.subscription_tier = expected.subscription_tier

),

mismatches as (

    select * from compared
    where
        evaluation_count is distinct from expected_evaluation_count
        or professional_data_count is distinct from expected_professional_data_count

)

select * from mismatches
