with

odi_scores as (

    select * from {{ ref('stg_vital__jtbd_odi_scores') }}

),

scored as (

    select
        odi_score_id,
        tenant_id,
        jtbd_id,
        persona_id,
        opportunity_classification as source_opportunity_classification,
        importance_score,
        satisfaction_score,
        opportunity_score as source_opportunity_score,
        {{ odi_opportunity('importance_score', 'satisfaction_score') }}::numeric(4, 2)
            as opportunity_score

    from odi_scores

),

classified as (

    select
        odi_score_id,
        tenant_id,
        jtbd_id,
        persona_id,
        source_opportunity_classification,
        {{ odi_classification('opportunity_score', 'importance_score', 'satisfaction_score') }}
            as opportunity_classification,
        importance_score,
        satisfaction_score,
        source_opportunity_score,
        opportunity_score

    from scored

)

select * from classified
