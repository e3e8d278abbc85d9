with

workflows as (

    select * from {{ ref('stg_vital__workflow_templates') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

ai_suitability as (

    select * from {{ ref('stg_vital__jtbd_ai_suitability') }}

),

workflow_tasks as (

    select * from {{ ref('int_workflow_tasks_aggregated') }}

),

job_scores as (

    select * from {{ ref('int_jtbd_odi_aggregated') }}

),

value_metrics as (

    select * from {{ ref('int_value_metrics_joined') }}

),

workflow_value as (

    select
        workflow_id,
        count(*) as value_metrics_count,
        count(*) filter (where is_target_met) as targets_met_count,
        round(avg(target_attainment_pct), 1) as avg_target_attainment_pct

    from value_metrics
    where workflow_id is not null
    group by workflow_id

),

workflow_analytics as (

    select
        workflows.workflow_id,
        workflows.tenant_id,
        workflows.jtbd_id,
        workflows.workflow_name,
        workflows.status,
        workflows.automation_level,
        jobs.jtbd_code,
        jobs.jtbd_name,
        jobs.complexity,
        jobs.frequency,
        workflow_tasks.stages_count,
        workflow_tasks.tasks_count,
        workflow_tasks.automatable_tasks_count,
        case
            when workflow_tasks.tasks_count > 0
                then round(
                    100.0 * workflow_tasks.automatable_tasks_count / workflow_tasks.tasks_count, 1
                )
            else 0
        end as automatable_tasks_pct,
        workflow_tasks.assigned_roles_count,
        workflows.estimated_duration_hours,
        workflow_tasks.total_stage_duration_hours,
        round(workflow_tasks.total_task_minutes / 60.0, 1) as total_task_hours,
        round(workflow_tasks.automatable_task_minutes / 60.0, 1) as automatable_task_hours,
        job_scores.avg_opportunity_score,
        job_scores.max_opportunity_score,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        coalesce(workflow_value.value_metrics_count, 0) as value_metrics_count,
        coalesce(workflow_value.targets_met_count, 0) as targets_met_count,
        workflow_value.avg_target_attainment_pct

    from workflows
    inner join jobs
        on workflows.jtbd_id = jobs.jtbd_id
    inner join workflow_tasks
        on workflows.workflow_id = workflow_tasks.workflow_id
    inner join job_scores
        on workflows.jtbd_id = job_scores.jtbd_id
    left join ai_suitability
        on workflows.jtbd_id = ai_suitability.jtbd_id
    left join workflow_value
        on workflows.workflow_id = workflow_value.workflow_id

)

select * from workflow_analytics
