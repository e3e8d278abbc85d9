{#-
    Typed, directed edges between entities of adjacent ontology layers, always pointing down
    (strategy to execution, organisation to people). Only live entities take part: soft-deleted
    jobs and workflows (dropped in staging) take their edges with them, a job its workflows'
    stages and tasks too (the rule every mart follows).
-#}

with

industries as (

    select * from {{ ref('stg_vital__industries') }}

),

functions as (

    select * from {{ ref('stg_vital__org_business_functions') }}

),

departments as (

    select * from {{ ref('stg_vital__org_departments') }}

),

roles as (

    select * from {{ ref('stg_vital__org_roles') }}

),

personas as (

    select * from {{ ref('stg_vital__personas') }}

),

pillars as (

    select * from {{ ref('stg_vital__strategic_pillars') }}

),

category_mappings as (

    select * from {{ ref('stg_vital__jtbd_category_mappings') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

job_roles as (

    select * from {{ ref('stg_vital__jtbd_roles') }}

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

value_metrics as (

    select * from {{ ref('stg_vital__value_metrics') }}

),

industry_function_edges as (

    select
        'has_function' as edge_type,
        'industry' as source_type,
        industries.industry_id as source_id,
        industries.industry_name as source_label,
        'function' as target_type,
        functions.function_id as target_id,
        functions.function_name as target_label,
        functions.tenant_id,
        1::numeric(5, 4) as weight
    from functions
    inner join industries
        on functions.industry_id = industries.industry_id

),

function_department_edges as (

    select
        'has_department' as edge_type,
        'function' as source_type,
        functions.function_id as source_id,
        functions.function_name as source_label,
        'department' as target_type,
        departments.department_id as target_id,
        departments.department_name as target_label,
        departments.tenant_id,
        1::numeric(5, 4) as weight
    from departments
    inner join functions
        on departments.function_id = functions.function_id

),

department_role_edges as (

    select
        'has_role' as edge_type,
        'department' as source_type,
        departments.department_id as source_id,
        departments.department_name as source_label,
        'role' as target_type,
        roles.role_id as target_id,
        roles.role_name as target_label,
        roles.tenant_id,
        1::numeric(5, 4) as weight
    from roles
    inner join departments
        on roles.department_id = departments.department_id

),

role_persona_edges as (

    select
        'has_persona' as edge_type,
        'role' as source_type,
        roles.role_id as source_id,
        roles.role_name as source_label,
        'persona' as target_type,
        personas.persona_id as target_id,
        personas.persona_name as target_label,
        personas.tenant_id,
        1::numeric(5, 4) as weight
    from personas
    inner join roles
        on personas.role_id = roles.role_id

),

pillar_jtbd_edges as (

    select
        'influences' as edge_type,
        'strategic_pillar' as source_type,
        pillars.pillar_id as source_id,
        pillars.pillar_name as source_label,
        'jtbd' as target_type,
        jobs.jtbd_id as target_id,
        jobs.jtbd_name as target_label,
        jobs.tenant_id,
        category_mappings.alignment_weight::numeric(5, 4) as weight
    from category_mappings
    inner join pillars
        on category_mappings.pillar_id = pillars.pillar_id
    inner join jobs
        on category_mappings.jtbd_id = jobs.jtbd_id

),

jtbd_role_edges as (

    select
        'performed_by' as edge_type,
        'jtbd' as source_type,
        jobs.jtbd_id as source_id,
        jobs.jtbd_name as source_label,
        'role' as target_type,
        roles.role_id as target_id,
        roles.role_name as target_label,
        job_roles.tenant_id,
        (job_roles.time_share_pct / 100)::numeric(5, 4) as weight
    from job_roles
    inner join jobs
        on job_roles.jtbd_id = jobs.jtbd_id
    inner join roles
        on job_roles.role_id = roles.role_id

),

jtbd_workflow_edges as (

    select
        'automated_by' as edge_type,
        'jtbd' as source_type,
        jobs.jtbd_id as source_id,
        jobs.jtbd_name as source_label,
        'workflow' as target_type,
        workflows.workflow_id as target_id,
        workflows.workflow_name as target_label,
        workflows.tenant_id,
        1::numeric(5, 4) as weight
    from workflows
    inner join jobs
        on workflows.jtbd_id = jobs.jtbd_id

),

workflow_stage_edges as (

    select
        'has_stage' as edge_type,
        'workflow' as source_type,
        workflows.workflow_id as source_id,
        workflows.workflow_name as source_label,
        'workflow_stage' as target_type,
        stages.workflow_stage_id as target_id,
        stages.stage_name as target_label,
        workflows.tenant_id,
        1::numeric(5, 4) as weight
    from stages
    inner join workflows
        on stages.workflow_id = workflows.workflow_id
    inner join jobs
        on workflows.jtbd_id = jobs.jtbd_id

),

-- under the stages above only, so a task leaves with its workflow's job
stage_task_edges as (

    select
        'has_task' as edge_type,
        'workflow_stage' as source_type,
        stage_edges.target_id as source_id,
        stage_edges.target_label as source_label,
        'workflow_task' as target_type,
        tasks.workflow_task_id as target_id,
        tasks.task_name as target_label,
        stage_edges.tenant_id,
        1::numeric(5, 4) as weight
    from tasks
    inner join workflow_stage_edges as stage_edges
        on tasks.workflow_stage_id = stage_edges.target_id

),

jtbd_value_metric_edges as (

    select
        'measured_by' as edge_type,
        'jtbd' as source_type,
        jobs.jtbd_id as source_id,
        jobs.jtbd_name as source_label,
        'value_metric' as target_type,
        value_metrics.value_metric_id as target_id,
        value_metrics.metric_name as target_label,
        value_metrics.tenant_id,
        1::numeric(5, 4) as weight
    from value_metrics
    inner join jobs
        on value_metrics.jtbd_id = jobs.jtbd_id

),

edges as (

    select * from industry_function_edges
    union all
    select * from function_department_edges
    union all
    select * from department_role_edges
    union all
    select * from role_persona_edges
    union all
    select * from pillar_jtbd_edges
    union all
    select * from jtbd_role_edges
    union all
    select * from jtbd_workflow_edges
    union all
    select * from workflow_stage_edges
    union all
    select * from stage_task_edges
    union all
    select * from jtbd_value_metric_edges

)

select * from edges
