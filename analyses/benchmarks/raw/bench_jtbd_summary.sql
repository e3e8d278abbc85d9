{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_jtbd_summary: one tenant's live jobs computed from the VITAL source tables -
-- roles, the published personas whose role performs the job with their stored ODI scores, its
-- desired outcomes with their ODI figures, pillars, AI suitability, top-priority value driver,
-- workflows, opportunities and value metrics - filtered, ordered and limited like the mart query.

with

tenant_jobs as (

    select * from {{ source('vital', 'jtbd') }}
    where
        deleted_at is null
        and tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

),

job_roles as (

    select
        jtbd_roles.jtbd_id,
        count(distinct jtbd_roles.role_id) as roles_count

    from {{ source('vital', 'jtbd_roles') }} as jtbd_roles
    group by jtbd_roles.jtbd_id

),

outcome_scores as (

    select
        outcomes.jtbd_id,
        outcomes.importance_score,
        outcomes.satisfaction_score,
        outcomes.importance_score
        + greatest(outcomes.importance_score - outcomes.satisfaction_score, 0)
            as opportunity_score

    from {{ source('vital', 'jtbd_outcomes') }} as outcomes

),

job_outcomes as (

    select
        jtbd_id,
        count(*) as outcomes_count,
        count(*) filter (where opportunity_score >= 10) as underserved_outcomes_count,
        round(avg(importance_score), 2) as avg_outcome_importance_score,
        round(avg(satisfaction_score), 2) as avg_outcome_satisfaction_score,
        round(avg(opportunity_score), 1) as avg_outcome_opportunity_score,
        max(opportunity_score) as max_outcome_opportunity_score

    from outcome_scores
    group by jtbd_id

),

job_scores as (

    select
        jtbd_roles.jtbd_id,
        count(*) as personas_count,
        count(odi_scores.opportunity_score) as scored_personas_count,
        round(avg(odi_scores.opportunity_score), 1) as avg_opportunity_score,
        max(odi_scores.opportunity_score) as max_opportunity_score,
        count(*) filter (
            where odi_scores.opportunity_classification = 'highly_underserved'
        ) as highly_underserved_count,
        count(*) filter (
            where odi_scores.opportunity_classification = 'underserved'
        ) as underserved_count,
        count(*) filter (
            where odi_scores.opportunity_classification = 'appropriately_served'
        ) as appropriately_served_count,
        count(*) filter (
            where odi_scores.opportunity_classification = 'overserved'
        ) as overserved_count

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    left join {{ source('vital', 'jtbd_odi_scores') }} as odi_scores
        on
            jtbd_roles.jtbd_id = odi_scores.jtbd_id
            and personas.id = odi_scores.persona_id
    where personas.validation_status = 'published'
    group by jtbd_roles.jtbd_id

),

job_workflows as (

    select
        workflows.jtbd_id,
        count(*) as workflows_count,
        count(*) filter (where workflows.status = 'active') as active_workflows_count

    from {{ source('vital', 'workflow_templates') }} as workflows
    where workflows.deleted_at is null
    group by workflows.jtbd_id

),

job_ref_opportunities as (

    select
        ref_opportunities.target_jtbd_id as jtbd_id,
        count(*) as ref_opportunities_count

    from {{ source('vital', 'ref_opportunities') }} as ref_opportunities
    group by ref_opportunities.target_jtbd_id

),

job_ai_opportunities as (

    select
        ai_opportunities.jtbd_id,
        count(*) as ai_opportunities_count,
        round(avg(ai_opportunities.automation_potential), 2) as avg_automation_potential,
        round(sum(ai_opportunities.estimated_time_savings_hours), 1) as time_savings_hours,
        round(sum(ai_opportunities.estimated_cost_savings_usd), 2) as cost_savings_usd

    from {{ source('vital', 'ai_opportunities') }} as ai_opportunities
    where ai_opportunities.status <> 'rejected'
    group by ai_opportunities.jtbd_id

),

job_metrics as (

    select
        value_metrics.jtbd_id,
        count(*) as value_metrics_count,
        count(*) filter (
            where
            value_metrics.actual_value is not null
            and (
                (
                    value_metrics.target_value >= value_metrics.baseline_value
                    and value_metrics.actual_value >= value_metrics.target_value
                )
                or (
                    value_metrics.target_value < value_metrics.baseline_value
                    and value_metrics.actual_value <= value_metrics.target_value
                )
            )
        ) as targets_met_count,
        round(
            avg(
                case
                    when
                        value_metrics.actual_value is not null
                        and value_metrics.target_value <> value_metrics.baseline_value
                        then least(
                            greatest(
                                100
                                * (value_metrics.actual_value - value_metrics.baseline_value)
                                / (value_metrics.target_value - value_metrics.baseline_value),
                                0
                            ),
                            100
                        )
                end
            ),
            1
        ) as avg_target_attainment_pct

    from {{ source('vital', 'value_metrics') }} as value_metrics
    group by value_metrics.jtbd_id

),

jtbd_summary as (

    select
        tenant_jobs.tenant_id,
        tenant_jobs.id as jtbd_id,
        tenant_jobs.code as jtbd_code,
        tenant_jobs.name as jtbd_name,
        tenant_jobs.complexity,
        tenant_jobs.frequency,
        tenant_jobs.status,
        coalesce(job_roles.roles_count, 0) as roles_count,
        coalesce(job_scores.personas_count, 0) as personas_count,
        coalesce(job_scores.scored_personas_count, 0) as scored_personas_count,
        job_scores.avg_opportunity_score,
        job_scores.max_opportunity_score,
        coalesce(job_scores.highly_underserved_count, 0) as highly_underserved_count,
        coalesce(job_scores.underserved_count, 0) as underserved_count,
        coalesce(job_scores.appropriately_served_count, 0) as appropriately_served_count,
        coalesce(job_scores.overserved_count, 0) as overserved_count,
        coalesce(job_outcomes.outcomes_count, 0) as outcomes_count,
        coalesce(job_outcomes.underserved_outcomes_count, 0) as underserved_outcomes_count,
        job_outcomes.avg_outcome_importance_score,
        job_outcomes.avg_outcome_satisfaction_score,
        job_outcomes.avg_outcome_opportunity_score,
        job_outcomes.max_outcome_opportunity_score,
        coalesce(
            (
                select array_agg(pillars.code order by pillars.code)
                from {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
                inner join {{ source('vital', 'strategic_pillars') }} as pillars
                    on category_mappings.pillar_id = pillars.id
                where category_mappings.jtbd_id = tenant_jobs.id
            ),
            '{}'::text[]
        ) as strategic_pillars,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        coalesce(value_drivers.value_category, 'unknown') as primary_value_category,
        coalesce(job_workflows.workflows_count, 0) as workflows_count,
        coalesce(job_workflows.active_workflows_count, 0) as active_workflows_count,
        coalesce(job_ref_opportunities.ref_opportunities_count, 0) as ref_opportunities_count,
        coalesce(job_ai_opportunities.ai_opportunities_count, 0) as ai_opportunities_count,
        job_ai_opportunities.avg_automation_potential,
        coalesce(job_ai_opportunities.time_savings_hours, 0) as total_estimated_time_savings_hours,
        coalesce(job_ai_opportunities.cost_savings_usd, 0) as total_estimated_cost_savings_usd,
        coalesce(job_metrics.value_metrics_count, 0) as value_metrics_count,
        coalesce(job_metrics.targets_met_count, 0) as targets_met_count,
        job_metrics.avg_target_attainment_pct,
        current_timestamp as last_refreshed

    from tenant_jobs
    left join job_roles
        on tenant_jobs.id = job_roles.jtbd_id
    left join job_scores
        on tenant_jobs.id = job_scores.jtbd_id
    left join job_outcomes
        on tenant_jobs.id = job_outcomes.jtbd_id
    left join job_workflows
        on tenant_jobs.id = job_workflows.jtbd_id
    left join job_ref_opportunities
        on tenant_jobs.id = job_ref_opportunities.jtbd_id
    left join job_ai_opportunities
        on tenant_jobs.id = job_ai_opportunities.jtbd_id
    left join job_metrics
        on tenant_jobs.id = job_metrics.jtbd_id
    left join {{ source('vital', 'jtbd_ai_suitability') }} as ai_suitability
        on tenant_jobs.id = ai_suitability.jtbd_id
    left join lateral (
        select ref_opportunities.primary_value_driver_id
        from {{ source('vital', 'ref_opportunities') }} as ref_opportunities
        where ref_opportunities.target_jtbd_id = tenant_jobs.id
        order by ref_opportunities.priority_rank, ref_opportunities.id
        limit 1
    ) as top_opportunities on true
    left join {{ source('vital', 'ref_value_drivers') }} as value_drivers
        on top_opportunities.primary_value_driver_id = value_drivers.id

)

select * from jtbd_summary
where avg_opportunity_score >= 10
order by avg_opportunity_score desc, jtbd_id desc
limit 1000
