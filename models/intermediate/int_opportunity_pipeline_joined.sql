{#-
    One row per AI opportunity on a live job, with the job's attributes, AI suitability,
    strategic pillars and primary value category, kept as a maintained table (maintained_table:
    merged on ai_opportunity_id on every change of its sources) that
    `mv_value_view_opportunity_pipeline` reads (see the YAML for the staleness bound). It reads
    no mart: the real-time view joins the job's ODI context from the hourly job summary at read
    time, so a rebuild of the summary never has to swap a materialized view built on it.
-#}

with

opportunities as (

    select * from {{ ref('stg_vital__ai_opportunities') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

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

pipeline as (

    select
        opportunities.ai_opportunity_id,
        opportunities.tenant_id,
        opportunities.jtbd_id,
        jobs.jtbd_code,
        jobs.jtbd_name,
        jobs.complexity,
        jobs.frequency,
        opportunities.opportunity_name,
        opportunities.status,
        opportunities.priority,
        opportunities.automation_potential,
        opportunities.estimated_time_savings_hours,
        opportunities.estimated_cost_savings_usd,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        job_value_drivers.primary_value_category,
        job_pillars.strategic_pillars,
        opportunities.created_at,
        opportunities.updated_at

    from opportunities
    inner join jobs
        on opportunities.jtbd_id = jobs.jtbd_id
    inner join job_pillars
        on opportunities.jtbd_id = job_pillars.jtbd_id
    inner join job_value_drivers
        on opportunities.jtbd_id = job_value_drivers.jtbd_id
    left join ai_suitability
        on opportunities.jtbd_id = ai_suitability.jtbd_id

)

select * from pipeline
