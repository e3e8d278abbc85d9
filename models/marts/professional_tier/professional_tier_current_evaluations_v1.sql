{#-
    The serving copy of the live business evaluations (soft-deleted rows are dropped in staging),
    with every column of the source and the specification's tier-aware and JSONB indexes (built
    by the post-hooks in the YAML). `deleted_at` is kept, always null, so the application's
    `deleted_at is null` predicates run unchanged and match the partial indexes.
-#}

with

evaluations as (

    select * from {{ ref('stg_evaluations__business_evaluations') }}

),

current_evaluations as (

    select
        evaluation_id,
        tenant_id,
        user_id,
        subscription_tier,
        status,
        analysis_depth,
        business_data,
        professional_data,
        valuations,
        opportunities,
        health_score,
        confidence_score,
        data_version,
        created_at,
        updated_at,
        null::timestamptz as deleted_at,
        current_timestamp as last_refreshed

    from evaluations

)

select * from current_evaluations
