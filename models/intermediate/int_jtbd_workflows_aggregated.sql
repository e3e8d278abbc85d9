{#-
    One row per live job: its live workflows and their combined stage/task hierarchy. A job's
    hours per run is the average estimated duration of its workflows (null without workflows).
-#}

with

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

workflows as (

    select * from {{ ref('stg_vital__workflow_templates') }}

),

workflow_tasks as (

    select * from {{ ref('int_workflow_tasks_aggregated') }}

),

job_workflows as (

    select
        workflows.jtbd_id,
        count(*) as workflows_count,
        count(*) filter (where workflows.status = 'active') as active_workflows_count,
        avg(workflows.estimated_duration_hours) as avg_workflow_duration_hours,
        sum(workflow_tasks.stages_count)::bigint as stages_count,
        sum(workflow_tasks.tasks_count)::bigint as tasks_count,
        sum(workflow_tasks.automatable_tasks_count)::bigint as automatable_tasks_count

    from workflows
    inner join workflow_tasks
        on workflows.workflow_id = workflow_tasks.workflow_id
    group by workflows.jtbd_id

),

job_totals as (

    select
        jobs.jtbd_id,
        coalesce(job_workflows.workflows_count, 0) as workflows_count,
        coalesce(job_workflows.active_workflows_count, 0) as active_workflows_count,
        job_workflows.avg_workflow_duration_hours,
        coalesce(job_workflows.stages_count, 0) as stages_count,
        coalesce(job_workflows.tasks_count, 0) as tasks_count,
        coalesce(job_workflows.automatable_tasks_count, 0) as automatable_tasks_count

    from jobs
    left join job_workflows
        on jobs.jtbd_id = job_workflows.jtbd_id

)

select * from job_totals
