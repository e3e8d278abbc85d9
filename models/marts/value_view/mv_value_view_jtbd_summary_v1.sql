with

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

jtbd_roles as (

    select * from {{ ref('stg_vital__jtbd_roles') }}

),

ai_suitability as (

    select * from {{ ref('stg_vital__jtbd_ai_suitability') }}

),

job_scores as (

    select * from {{ ref('int_jtbd_odi_aggregated') }}

),

job_pillars as (

    select * from {{ ref('int_jtbd_pillars_aggregated') }}

),

job_value_drivers as (

    select * from {{ ref('int_jtbd_primary_value_drivers_selected') }}

),

job_workflows as (

    select * from {{ ref('int_jtbd_workflows_aggregated') }}

),

job_value as (

    select * from {{ ref('int_jtbd_value_aggregated') }}

),

job_outcomes as (

    select * from {{ ref('int_jtbd_outcomes_aggregated') }}

),

job_roles as (

    select
        jtbd_id,
        count(distinct role_id) as roles_count

    from jtbd_roles
    group by jtbd_id

),

job_summary as (

    select
        jobs.tenant_id,
        jobs.jtbd_id,
        jobs.jtbd_code,
        jobs.jtbd_name,
        jobs.complexity,
        jobs.frequency,
        jobs.status,
        coalesce(job_roles.roles_count, 0) as roles_count,
        job_scores.personas_count,
        job_scores.scored_personas_count,
        job_scores.avg_opportunity_score,
        job_scores.max_opportunity_score,
        job_scores.highly_underserved_count,
        job_scores.underserved_count,
        job_scores.appropriately_served_count,
        job_scores.overserved_count,
        coalesce(job_outcomes.outcomes_count, 0) as outcomes_count,
        coalesce(job_outcomes.underserved_outcomes_count, 0) as underserved_outcomes_count,
        round(job_outcomes.avg_outcome_importance_score, 2) as avg_outcome_importance_score,
        round(job_outcomes.avg_outcome_satisfaction_score, 2) as avg_outcome_satisfaction_score,
        round(job_outcomes.avg_outcome_opportunity_score, 1) as avg_outcome_opportunity_score,
        job_outcomes.max_outcome_opportunity_score,
        job_pillars.strategic_pillars,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        job_value_drivers.primary_value_category,
        job_workflows.workflows_count,
        job_workflows.active_workflows_count,
        job_value_drivers.ref_opportunities_count,
        job_value.ai_opportunities_count,
        round(job_value.avg_automation_potential, 2) as avg_automation_potential,
        round(job_value.estimated_time_savings_hours, 1) as total_estimated_time_savings_hours,
        round(job_value.estimated_cost_savings_usd, 2) as total_estimated_cost_savings_usd,
        job_value.value_metrics_count,
        job_value.targets_met_count,
        round(job_value.avg_target_attainment_pct, 1) as avg_target_attainment_pct

    from jobs
    inner join job_scores
        on jobs.jtbd_id = job_scores.jtbd_id
    inner join job_workflows
        on jobs.jtbd_id = job_workflows.jtbd_id
    inner join job_value
        on jobs.jtbd_id = job_value.jtbd_id
    left join job_roles
        on jobs.jtbd_id = job_roles.jtbd_id
    left join job_outcomes
        on jobs.jtbd_id = job_outcomes.jtbd_id
    left join ai_suitability
        on jobs.jtbd_id = ai_suitability.jtbd_id
    inner join job_pillars
        on jobs.jtbd_id = job_pillars.jtbd_id
    inner join job_value_drivers
        on jobs.jtbd_id = job_value_drivers.jtbd_id

)

select * from job_summary
