{#-
    One row per live workflow: the size of its stage and task hierarchy and how much of it can be
    automated. Workflows without stages or tasks get zero counts.
-#}

with

workflows as (

    select * from {{ ref('stg_vital__workflow_templates') }}

),

stages as (

    select * from {{ ref('stg_vital__workflow_stages') }}

),

tasks as (

    select * from {{ ref('stg_vital__workflow_tasks') }}

),

stage_totals as (

    select
        workflow_id,
        count(*) as stages_count,
        sum(estimated_duration_hours) as total_stage_duration_hours

    from stages
    group by workflow_id

),

task_totals as (

    select
        stages.workflow_id,
        count(*) as tasks_count,
        count(*) filter (where tasks.is_automatable) as automatable_tasks_count,
        count(distinct tasks.assigned_role_id) as assigned_roles_count,
        sum(tasks.estimated_minutes) as total_task_minutes,
        coalesce(sum(tasks.estimated_minutes) filter (where tasks.is_automatable), 0)
            as automatable_task_minutes

    from tasks
    inner join stages
        on tasks.workflow_stage_id = stages.workflow_stage_id
    group by stages.workflow_id

),

workflow_totals as (

    select
        workflows.workflow_id,
        coalesce(stage_totals.stages_count, 0) as stages_count,
        coalesce(task_totals.tasks_count, 0) as tasks_count,
        coalesce(task_totals.automatable_tasks_count, 0) as automatable_tasks_count,
        coalesce(task_totals.assigned_roles_count, 0) as assigned_roles_count,
        coalesce(stage_totals.total_stage_duration_hours, 0) as total_stage_duration_hours,
        coalesce(task_totals.total_task_minutes, 0) as total_task_minutes,
        coalesce(task_totals.automatable_task_minutes, 0) as automatable_task_minutes

    from workflows
    left join stage_totals
        on workflows.workflow_id = stage_totals.workflow_id
    left join task_totals
        on workflows.workflow_id = task_totals.workflow_id

)

select * from workflow_totals
