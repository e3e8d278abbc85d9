{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_role_workload: one tenant's roles computed from the VITAL source tables -
-- the live jobs each performs and its hours a year on them (its time share of each job x the
-- job's runs per working year - daily 250, weekly 52, monthly 12, quarterly 4, annually 1 - x
-- the hours of its own tasks in a run where the job's workflows assign it some, else the
-- average duration of the job's workflows), spread over its headcount, its published personas
-- and their stored ODI scores, and the workflow tasks assigned to it - ordered and limited like
-- the mart query.

with

job_hours as (

    select
        workflows.jtbd_id,
        count(*) as workflows_count,
        avg(workflows.estimated_duration_hours) as hours_per_run

    from {{ source('vital', 'workflow_templates') }} as workflows
    where workflows.deleted_at is null
    group by workflows.jtbd_id

),

role_job_task_minutes as (

    select
        tasks.assigned_role_id as role_id,
        workflows.jtbd_id,
        sum(tasks.estimated_minutes) as task_minutes

    from {{ source('vital', 'workflow_tasks') }} as tasks
    inner join {{ source('vital', 'workflow_stages') }} as stages
        on tasks.workflow_stage_id = stages.id
    inner join {{ source('vital', 'workflow_templates') }} as workflows
        on stages.workflow_template_id = workflows.id
    where workflows.deleted_at is null and tasks.assigned_role_id is not null
    group by tasks.assigned_role_id, workflows.jtbd_id

),

role_jobs as (

    select
        jtbd_roles.role_id,
        count(*) as jobs_count,
        count(*) filter (where jtbd_roles.is_primary) as primary_jobs_count,
        count(*) filter (where jobs.frequency = 'daily') as daily_jobs_count,
        count(*) filter (where jobs.frequency = 'weekly') as weekly_jobs_count,
        count(*) filter (where jobs.frequency = 'monthly') as monthly_jobs_count,
        count(*) filter (where jobs.frequency = 'quarterly') as quarterly_jobs_count,
        count(*) filter (where jobs.frequency = 'annually') as annual_jobs_count,
        sum(runs.runs_per_year) as job_runs_per_year,
        coalesce(
            sum(
                jtbd_roles.time_share_pct / 100.0
                * runs.runs_per_year
                * coalesce(
                    task_minutes.task_minutes / 60.0 / job_hours.workflows_count,
                    job_hours.hours_per_run
                )
            ),
            0
        ) as estimated_annual_hours

    from {{ source('vital', 'jtbd_roles') }} as jtbd_roles
    inner join {{ source('vital', 'jtbd') }} as jobs
        on jtbd_roles.jtbd_id = jobs.id
    left join job_hours
        on jobs.id = job_hours.jtbd_id
    left join role_job_task_minutes as task_minutes
        on
            jtbd_roles.role_id = task_minutes.role_id
            and jtbd_roles.jtbd_id = task_minutes.jtbd_id
    left join (
        values
        ('daily', 250),
        ('weekly', 52),
        ('monthly', 12),
        ('quarterly', 4),
        ('annually', 1)
    ) as runs (frequency, runs_per_year)
        on jobs.frequency = runs.frequency
    where jobs.deleted_at is null
    group by jtbd_roles.role_id

),

role_personas as (

    select
        personas.role_id,
        count(*) as personas_count

    from {{ source('vital', 'personas') }} as personas
    where personas.validation_status = 'published'
    group by personas.role_id

),

role_scores as (

    select
        personas.role_id,
        round(avg(odi_scores.opportunity_score), 1) as avg_opportunity_score

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    inner join {{ source('vital', 'jtbd') }} as jobs
        on jtbd_roles.jtbd_id = jobs.id
    left join {{ source('vital', 'jtbd_odi_scores') }} as odi_scores
        on
            jobs.id = odi_scores.jtbd_id
            and personas.id = odi_scores.persona_id
    where
        personas.validation_status = 'published'
        and jobs.deleted_at is null
    group by personas.role_id

),

role_tasks as (

    select
        tasks.assigned_role_id as role_id,
        count(distinct workflows.id) as workflows_assigned_count,
        count(*) as tasks_assigned_count,
        count(*) filter (where tasks.is_automatable) as automatable_tasks_assigned_count,
        round(sum(tasks.estimated_minutes) / 60.0, 1) as assigned_task_hours

    from {{ source('vital', 'workflow_tasks') }} as tasks
    inner join {{ source('vital', 'workflow_stages') }} as stages
        on tasks.workflow_stage_id = stages.id
    inner join {{ source('vital', 'workflow_templates') }} as workflows
        on stages.workflow_template_id = workflows.id
    inner join {{ source('vital', 'jtbd') }} as jobs
        on workflows.jtbd_id = jobs.id
    where
        workflows.deleted_at is null
        and jobs.deleted_at is null
        and tasks.assigned_role_id is not null
    group by tasks.assigned_role_id

),

role_workload as (

    select
        roles.id as role_id,
        roles.tenant_id,
        business_functions.industry_id,
        business_functions.id as function_id,
        departments.id as department_id,
        roles.role_name,
        roles.seniority,
        departments.department_name,
        business_functions.function_name,
        roles.headcount,
        coalesce(role_jobs.jobs_count, 0) as jobs_count,
        coalesce(role_jobs.primary_jobs_count, 0) as primary_jobs_count,
        coalesce(role_jobs.daily_jobs_count, 0) as daily_jobs_count,
        coalesce(role_jobs.weekly_jobs_count, 0) as weekly_jobs_count,
        coalesce(role_jobs.monthly_jobs_count, 0) as monthly_jobs_count,
        coalesce(role_jobs.quarterly_jobs_count, 0) as quarterly_jobs_count,
        coalesce(role_jobs.annual_jobs_count, 0) as annual_jobs_count,
        coalesce(role_jobs.job_runs_per_year, 0) as job_runs_per_year,
        round(coalesce(role_jobs.estimated_annual_hours, 0), 1) as estimated_annual_hours,
        case
            when roles.headcount > 0
                then round(coalesce(role_jobs.estimated_annual_hours, 0) / roles.headcount, 1)
        end as estimated_annual_hours_per_head,
        case
            when roles.headcount > 0
                then round(
                    coalesce(role_jobs.estimated_annual_hours, 0)
                    / roles.headcount / {{ var('working_hours_per_year') }},
                    3
                )
        end as utilisation,
        coalesce(role_personas.personas_count, 0) as personas_count,
        role_scores.avg_opportunity_score,
        coalesce(role_tasks.workflows_assigned_count, 0) as workflows_assigned_count,
        coalesce(role_tasks.tasks_assigned_count, 0) as tasks_assigned_count,
        coalesce(role_tasks.automatable_tasks_assigned_count, 0)
            as automatable_tasks_assigned_count,
        coalesce(role_tasks.assigned_task_hours, 0) as assigned_task_hours,
        current_timestamp as last_refreshed

    from {{ source('vital', 'org_roles') }} as roles
    inner join {{ source('vital', 'org_departments') }} as departments
        on roles.department_id = departments.id
    inner join {{ source('vital', 'org_business_functions') }} as business_functions
        on departments.function_id = business_functions.id
    left join role_jobs
        on roles.id = role_jobs.role_id
    left join role_personas
        on roles.id = role_personas.role_id
    left join role_scores
        on roles.id = role_scores.role_id
    left join role_tasks
        on roles.id = role_tasks.role_id
    where roles.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

)

select * from role_workload
order by estimated_annual_hours desc, role_id desc
limit 100
