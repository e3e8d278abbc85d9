{#-
    The ODI heatmap, maintained incrementally (keyed_incremental_table): a refresh runs this query
    for the changed persona x job pairs only, so `last_refreshed` is when a row was last written.
-#}

with

pairs as (

    select * from {{ ref('int_persona_jtbd_pairs_joined') }}

),

heatmap as (

    select
        persona_name,
        archetype,
        role_name,
        department_name,
        function_name,
        jtbd_code,
        jtbd_name,
        complexity,
        frequency,
        importance_score,
        satisfaction_score,
        opportunity_score,
        opportunity_classification,
        ai_suitability,
        recommended_service_layer,
        primary_value_category,
        strategic_pillars,
        current_timestamp as last_refreshed,
        tenant_id,
        industry_id,
        function_id,
        department_id,
        role_id,
        persona_id,
        jtbd_id

    from pairs

)

select * from heatmap
