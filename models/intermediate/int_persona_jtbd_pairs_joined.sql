{#-
    The ODI heatmap's grain: one row per published persona x live job performed by the persona's
    role (through jtbd_roles). The opportunity score and its classification are computed from the
    persona's importance and satisfaction scores with the ODI macros, as int_odi_scores_classified
    computes them; a pair without scores keeps null scores and classification. They are computed
    after the join, for the pairs read only: computed below a left join, PostgreSQL evaluates them
    for every score row, also those of the pairs a filtered read (the heatmap's refresh of a few
    changed pairs) discards.
-#}

with

personas as (

    select * from {{ ref('int_published_personas_joined') }}

),

jtbd_roles as (

    select * from {{ ref('stg_vital__jtbd_roles') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

odi_scores as (

    select * from {{ ref('stg_vital__jtbd_odi_scores') }}

),

ai_suitability as (

    select * from {{ ref('stg_vital__jtbd_ai_suitability') }}

),

job_pillars as (

    select * from {{ ref('int_jtbd_pillars_aggregated') }}

),

job_value_drivers as (

    select * from {{ ref('int_jtbd_primary_value_drivers_selected') }}

),

pairs as (

    select
        personas.persona_id,
        jobs.jtbd_id,
        personas.tenant_id,
        personas.industry_id,
        personas.function_id,
        personas.department_id,
        personas.role_id,
        personas.persona_name,
        personas.archetype,
        personas.role_name,
        personas.department_name,
        personas.function_name,
        jobs.jtbd_code,
        jobs.jtbd_name,
        jobs.complexity,
        jobs.frequency,
        odi_scores.odi_score_id,
        odi_scores.importance_score,
        odi_scores.satisfaction_score,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        job_value_drivers.primary_value_category,
        job_pillars.strategic_pillars

    from personas
    inner join jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    inner join jobs
        on jtbd_roles.jtbd_id = jobs.jtbd_id
    left join odi_scores
        on
            jobs.jtbd_id = odi_scores.jtbd_id
            and personas.persona_id = odi_scores.persona_id
    left join ai_suitability
        on jobs.jtbd_id = ai_suitability.jtbd_id
    inner join job_pillars
        on jobs.jtbd_id = job_pillars.jtbd_id
    inner join job_value_drivers
        on jobs.jtbd_id = job_value_drivers.jtbd_id

),

scored as (

    select
        *,
        {{ odi_opportunity('importance_score', 'satisfaction_score') }}::numeric(4, 2)
            as opportunity_score

    from pairs

),

classified as (

    select
        persona_id,
        jtbd_id,
        tenant_id,
        industry_id,
        function_id,
        department_id,
        role_id,
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
        case
            when odi_score_id is not null
                then {{ odi_classification(
                    'opportunity_score', 'importance_score', 'satisfaction_score'
                ) }}
        end as opportunity_classification,
        ai_suitability,
        recommended_service_layer,
        primary_value_category,
        strategic_pillars

    from scored

)

select * from classified
