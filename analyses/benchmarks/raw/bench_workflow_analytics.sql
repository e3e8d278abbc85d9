{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_workflow_analytics: one tenant's live workflows of live jobs computed from
-- the VITAL source tables - stages and tasks, the job's ODI scores across the published personas
-- whose role performs it, its AI suitability and the value metrics that track the workflow -
-- ordered and limited like the mart query.

with

stage_totals as (

    select
        stages.workflow_template_id as workflow_id,
        count(*) as stages_count,
        sum(stages.estimated_duration_hours) as total_stage_duration_hours

    from {{ source('vital', 'workflow_stages') }} as stages
    group by stages.workflow_template_id

),

task_totals as (

    select
        stages.workflow_template_id as workflow_id,
        count(*) as tasks_count,
        count(*) filter (where tasks.is_automatable) as automatable_tasks_count,
        count(distinct tasks.assigned_role_id) as assigned_roles_count,
        sum(tasks.estimated_minutes) as total_task_minutes,
        coalesce(sum(tasks.estimated_minutes) filter (where tasks.is_automatable), 0)
            as automatable_task_minutes

    from {{ source('vital', 'workflow_tasks') }} as tasks
    inner join {{ source('vital', 'workflow_stages') }} as stages
        on tasks.workflow_stage_id = stages.id
    group by stages.workflow_template_id

),

job_scores as (

    select
        jtbd_roles.jtbd_id,
        round(avg(odi_scores.opportunity_score), 1) as avg_opportunity_score,
        max(odi_scores.opportunity_score) as max_opportunity_score

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

workflow_metrics as (

    select
        value_metrics.workflow_template_id as workflow_id,
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
    inner join {{ source('vital', 'jtbd') }} as jobs
        on value_metrics.jtbd_id = jobs.id
    where
        jobs.deleted_at is null
        and value_metrics.workflow_template_id is not null
    group by value_metrics.workflow_template_id

),

workflow_analytics as (

    select
        workflows.id as workflow_id,
        workflows.tenant_id,
        workflows.jtbd_id,
        workflows.name as workflow_name,
        workflows.status,
        workflows.automation_level,
        jobs.code as jtbd_code,
        jobs.name as jtbd_name,
        jobs.complexity,
        jobs.frequency,
        coalesce(stage_totals.stages_count, 0) as stages_count,
        coalesce(task_totals.tasks_count, 0) as tasks_count,
        coalesce(task_totals.automatable_tasks_count, 0) as automatable_tasks_count,
        case
            when coalesce(task_totals.tasks_count, 0) > 0
                then round(100.0 * task_totals.automatable_tasks_count / task_totals.tasks_count, 1)
            else 0
        end as automatable_tasks_pct,
        coalesce(task_totals.assigned_roles_count, 0) as assigned_roles_count,
        workflows.estimated_duration_hours,
        coalesce(stage_totals.total_stage_duration_hours, 0) as total_stage_duration_hours,
        round(coalesce(task_totals.total_task_minutes, 0) / 60.0, 1) as total_task_hours,
        round(coalesce(task_totals.automatable_task_minutes, 0) / 60.0, 1)
            as automatable_task_hours,
        job_scores.avg_opportunity_score,
        job_scores.max_opportunity_score,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        coalesce(workflow_metrics.value_metrics_count, 0) as value_metrics_count,
        coalesce(workflow_metrics.targets_met_count, 0) as targets_met_count,
        workflow_metrics.avg_target_attainment_pct,
        current_timestamp as last_refreshed

    from {{ source('vital', 'workflow_templates') }} as workflows
    inner join {{ source('vital', 'jtbd') }} as jobs
        on workflows.jtbd_id = jobs.id
    left join stage_totals
        on workflows.id = stage_totals.workflow_id
    left join task_totals
        on workflows.id = task_totals.workflow_id
    left join job_scores
        on workflows.jtbd_id = job_scores.jtbd_id
    left join {{ source('vital', 'jtbd_ai_suitability') }} as ai_suitability
        on workflows.jtbd_id = ai_suitability.jtbd_id
    left join workflow_metrics
        on workflows.id = workflow_metrics.workflow_id
    where
        workflows.deleted_at is null
        and jobs.deleted_at is null
        and workflows.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

)

select * from workflow_analytics
order by automatable_tasks_pct desc, workflow_id desc
limit 500
