{#-
    The ODI heatmap's grain: one row per published persona x live job performed by the persona's
    role (through jtbd_roles). The opportunity score and its classification come from
    int_odi_scores_classified, which computes them from the persona's importance and satisfaction
    scores with the ODI macros; a pair without scores keeps null scores and classification.
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

    select * from {{ ref('int_odi_scores_classified') }}

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
        odi_scores.importance_score,
        odi_scores.satisfaction_score,
        odi_scores.opportunity_score,
        odi_scores.opportunity_classification,
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

)

select * from pairs
