{#-
    Options of the cascading filter hierarchy (industry > function > department > role > persona
    > jtbd > workflow), one row per option with its parent option and an entity count.
    Organisation levels count the personas below them, as the specification's catalog does.
    Plain counts are distinct counts here: a persona sits on exactly one path of the org tree and
    a (job, role) pair is unique in jtbd_roles, so no `count(distinct ...)` sort is needed.
    A job is performed by many roles (about 34,000 role x job pairs at scale 1, 30,000 persona x
    job pairs), so jobs do not fit the tree: a jtbd option is one per live job, without a parent,
    and the role-to-job link is left to the dependency graph (`performed_by` edges) and the
    heatmap. Workflows hang under their job.
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

-- the organisation tree down to personas, as the specification's filter catalog joins it
org_tree as (

    select
        industries.tenant_id,
        industries.industry_id,
        industries.industry_name,
        functions.function_id,
        functions.function_name,
        departments.department_id,
        departments.department_name,
        roles.role_id,
        roles.role_name,
        personas.persona_id
    from industries
    left join functions
        on industries.industry_id = functions.industry_id
    left join departments
        on functions.function_id = departments.function_id
    left join roles
        on departments.department_id = roles.department_id
    left join personas
        on roles.role_id = personas.role_id

),

industry_options as (

    select
        tenant_id,
        'industry' as filter_type,
        1 as level,
        industry_id as filter_id,
        industry_name as filter_label,
        null::text as parent_filter_type,
        null::uuid as parent_filter_id,
        'persona' as counted_entity_type,
        count(persona_id) as entity_count
    from org_tree
    group by tenant_id, industry_id, industry_name

),

function_options as (

    select
        tenant_id,
        'function' as filter_type,
        2 as level,
        function_id as filter_id,
        function_name as filter_label,
        'industry' as parent_filter_type,
        industry_id as parent_filter_id,
        'persona' as counted_entity_type,
        count(persona_id) as entity_count
    from org_tree
    where function_id is not null
    group by tenant_id, function_id, function_name, industry_id

),

department_options as (

    select
        tenant_id,
        'department' as filter_type,
        3 as level,
        department_id as filter_id,
        department_name as filter_label,
        'function' as parent_filter_type,
        function_id as parent_filter_id,
        'persona' as counted_entity_type,
        count(persona_id) as entity_count
    from org_tree
    where department_id is not null
    group by tenant_id, department_id, department_name, function_id

),

role_options as (

    select
        tenant_id,
        'role' as filter_type,
        4 as level,
        role_id as filter_id,
        role_name as filter_label,
        'department' as parent_filter_type,
        department_id as parent_filter_id,
        'persona' as counted_entity_type,
        count(persona_id) as entity_count
    from org_tree
    where role_id is not null
    group by tenant_id, role_id, role_name, department_id

),

persona_jobs as (

    select
        job_roles.role_id,
        job_roles.jtbd_id
    from job_roles
    inner join jobs
        on job_roles.jtbd_id = jobs.jtbd_id

),

placed_roles as (

    select distinct role_id
    from org_tree
    where role_id is not null

),

persona_options as (

    select
        personas.tenant_id,
        'persona' as filter_type,
        5 as level,
        personas.persona_id as filter_id,
        personas.persona_name as filter_label,
        'role' as parent_filter_type,
        personas.role_id as parent_filter_id,
        'jtbd' as counted_entity_type,
        count(persona_jobs.jtbd_id) as entity_count
    from personas
    -- under a role of the tree only: a role the quarantine rejected (or whose department was)
    -- has no option, and its personas would name a parent option that does not exist
    inner join placed_roles
        on personas.role_id = placed_roles.role_id
    left join persona_jobs
        on personas.role_id = persona_jobs.role_id
    group by personas.tenant_id, personas.persona_id, personas.persona_name, personas.role_id

),

-- one option per live job, without a parent: see the model description
jtbd_options as (

    select
        jobs.tenant_id,
        'jtbd' as filter_type,
        6 as level,
        jobs.jtbd_id as filter_id,
        jobs.jtbd_name as filter_label,
        null::text as parent_filter_type,
        null::uuid as parent_filter_id,
        'workflow' as counted_entity_type,
        count(workflows.workflow_id) as entity_count
    from jobs
    left join workflows
        on jobs.jtbd_id = workflows.jtbd_id
    group by jobs.tenant_id, jobs.jtbd_id, jobs.jtbd_name

),

workflow_options as (

    select
        workflows.tenant_id,
        'workflow' as filter_type,
        7 as level,
        workflows.workflow_id as filter_id,
        workflows.workflow_name as filter_label,
        'jtbd' as parent_filter_type,
        workflows.jtbd_id as parent_filter_id,
        'workflow_stage' as counted_entity_type,
        count(stages.workflow_stage_id) as entity_count
    from workflows
    inner join jobs
        on workflows.jtbd_id = jobs.jtbd_id
    left join stages
        on workflows.workflow_id = stages.workflow_id
    group by
        workflows.tenant_id,
        workflows.workflow_id,
        workflows.workflow_name,
        workflows.jtbd_id

),

unioned as (

    select * from industry_options
    union all
    select * from function_options
    union all
    select * from department_options
    union all
    select * from role_options
    union all
    select * from persona_options
    union all
    select * from jtbd_options
    union all
    select * from workflow_options

),

final as (

    select
        tenant_id,
        filter_type,
        level,
        filter_id,
        filter_id::text as filter_value,
        filter_label,
        parent_filter_type,
        parent_filter_id,
        counted_entity_type,
        entity_count,
        null::integer as natural_order
    from unioned

)

select * from final
