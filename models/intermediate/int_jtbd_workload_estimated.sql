{#-
    One row per live job: how much work it represents in a year. A job runs as often as its
    frequency says (working-year runs below) and each run takes as long as its workflows do on
    average; a job without workflows has no hour estimate (null), only its runs.
-#}

with

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

job_workflows as (

    select * from {{ ref('int_jtbd_workflows_aggregated') }}

),

runs_per_frequency as (

    select
        frequency,
        runs_per_year

    from (
        values
        ('daily', 250),
        ('weekly', 52),
        ('monthly', 12),
        ('quarterly', 4),
        ('annually', 1)
    ) as frequencies (frequency, runs_per_year)

),

job_workload as (

    select
        jobs.jtbd_id,
        jobs.frequency,
        runs_per_frequency.runs_per_year,
        job_workflows.workflows_count,
        job_workflows.avg_workflow_duration_hours as hours_per_run,
        runs_per_frequency.runs_per_year * job_workflows.avg_workflow_duration_hours
            as estimated_annual_hours

    from jobs
    left join runs_per_frequency
        on jobs.frequency = runs_per_frequency.frequency
    left join job_workflows
        on jobs.jtbd_id = job_workflows.jtbd_id

)

select * from job_workload
