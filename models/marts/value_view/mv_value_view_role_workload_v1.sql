with

roles as (

    select * from {{ ref('stg_vital__org_roles') }}

),

departments as (

    select * from {{ ref('stg_vital__org_departments') }}

),

business_functions as (

    select * from {{ ref('stg_vital__org_business_functions') }}

),

jtbd_roles as (

    select * from {{ ref('stg_vital__jtbd_roles') }}

),

personas as (

    select * from {{ ref('int_published_personas_joined') }}

),

pairs as (

    select * from {{ ref('int_persona_jtbd_pairs_joined') }}

),

job_workload as (

    select * from {{ ref('int_jtbd_workload_estimated') }}

),

workflows as (

    select * from {{ ref('stg_vital__workflow_templates') }}

),

stages as (

    select * from {{ ref('stg_vital__workflow_stages') }}

),

tasks as (

    select * from {{ ref('stg_vital__workflow_tasks') }}

),

role_personas as (

    select
        role_id,
        count(*) as personas_count

    from personas
    group by role_id

),

role_opportunities as (

    select
        role_id,
        round(avg(opportunity_score), 1) as avg_opportunity_score

    from pairs
    group by role_id

),

live_tasks as (

    select
        tasks.workflow_task_id,
        tasks.assigned_role_id,
        stages.workflow_id,
        workflows.jtbd_id,
        tasks.estimated_minutes,
        tasks.is_automatable

    from tasks
    inner join stages
        on tasks.workflow_stage_id = stages.workflow_stage_id
    inner join workflows
        on stages.workflow_id = workflows.workflow_id
    -- one row per live job: a workflow of a soft-deleted job has none, so its tasks drop out
    inner join job_workload
        on workflows.jtbd_id = job_workload.jtbd_id
    where tasks.assigned_role_id is not null

),

role_task_minutes as (

    select
        assigned_role_id as role_id,
        jtbd_id,
        sum(estimated_minutes) as task_minutes

    from live_tasks
    group by assigned_role_id, jtbd_id

),

role_job_hours as (

    -- a role's hours a year on one job: its share of the job's runs x runs a year x the hours
    -- it spends on a run, that is its own tasks' hours where the job's workflows assign it tasks
    -- (averaged over the job's workflows, one of which a run follows), else the whole run
    select
        jtbd_roles.role_id,
        jtbd_roles.jtbd_id,
        jtbd_roles.is_primary,
        job_workload.frequency,
        job_workload.runs_per_year,
        jtbd_roles.time_share_pct / 100.0
        * job_workload.runs_per_year
        * coalesce(
            role_task_minutes.task_minutes / 60.0 / nullif(job_workload.workflows_count, 0),
            job_workload.hours_per_run
        ) as annual_hours

    from jtbd_roles
    inner join job_workload
        on jtbd_roles.jtbd_id = job_workload.jtbd_id
    left join role_task_minutes
        on
            jtbd_roles.role_id = role_task_minutes.role_id
            and jtbd_roles.jtbd_id = role_task_minutes.jtbd_id

),

role_jobs as (

    select
        role_id,
        count(*) as jobs_count,
        count(*) filter (where is_primary) as primary_jobs_count,
        count(*) filter (where frequency = 'daily') as daily_jobs_count,
        count(*) filter (where frequency = 'weekly') as weekly_jobs_count,
        count(*) filter (where frequency = 'monthly') as monthly_jobs_count,
        count(*) filter (where frequency = 'quarterly') as quarterly_jobs_count,
        count(*) filter (where frequency = 'annually') as annual_jobs_count,
        sum(runs_per_year) as job_runs_per_year,
        coalesce(sum(annual_hours), 0) as estimated_annual_hours

    from role_job_hours
    group by role_id

),

role_tasks as (

    select
        assigned_role_id as role_id,
        count(distinct workflow_id) as workflows_assigned_count,
        count(*) as tasks_assigned_count,
        count(*) filter (where is_automatable) as automatable_tasks_assigned_count,
        round(sum(estimated_minutes) / 60.0, 1) as assigned_task_hours

    from live_tasks
    group by assigned_role_id

),

role_workload as (

    select
        roles.role_id,
        roles.tenant_id,
        business_functions.industry_id,
        business_functions.function_id,
        departments.department_id,
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
        role_opportunities.avg_opportunity_score,
        coalesce(role_tasks.workflows_assigned_count, 0) as workflows_assigned_count,
        coalesce(role_tasks.tasks_assigned_count, 0) as tasks_assigned_count,
        coalesce(role_tasks.automatable_tasks_assigned_count, 0)
            as automatable_tasks_assigned_count,
        coalesce(role_tasks.assigned_task_hours, 0) as assigned_task_hours

    from roles
    inner join departments
        on roles.department_id = departments.department_id
    inner join business_functions
        on departments.function_id = business_functions.function_id
    left join role_jobs
        on roles.role_id = role_jobs.role_id
    left join role_personas
        on roles.role_id = role_personas.role_id
    left join role_opportunities
        on roles.role_id = role_opportunities.role_id
    left join role_tasks
        on roles.role_id = role_tasks.role_id

)

select * from role_workload
