{{ config(meta={'dagster': {'ref': {'name': 'v_value_view_dependency_graph', 'version': 1}}}) }}

-- Walks v_value_view_dependency_graph downwards from strategic pillar SP03 with a recursive CTE
-- (pillar -> jobs -> roles, workflows, value metrics -> personas, stages -> tasks) and checks
-- that the walk reaches workflow tasks, and exactly the tasks that the direct joins of the
-- staging models give (SP03's live jobs, their live workflows, stages and tasks).
-- Fails with one row per missing or unexpected task, or one row when no task is reached.

with recursive

pillars as (

    select * from {{ ref('stg_vital__strategic_pillars') }}

),

graph as (

    select * from {{ ref('v_value_view_dependency_graph') }}

),

category_mappings as (

    select * from {{ ref('stg_vital__jtbd_category_mappings') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

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

walk (node_type, node_id, depth) as (

    select
        'strategic_pillar' as node_type,
        pillar_id as node_id,
        0 as depth
    from pillars
    where pillar_code = 'SP03'

    union

    select
        graph.target_type as node_type,
        graph.target_id as node_id,
        walk.depth + 1 as depth
    from walk
    inner join graph
        on
            walk.node_type = graph.source_type
            and walk.node_id = graph.source_id
    -- the graph is layered (at most 6 steps from a pillar to a task): a guard, not a limit
    where walk.depth < 10

),

reached_tasks as (

    select distinct node_id as workflow_task_id
    from walk
    where node_type = 'workflow_task'

),

expected_tasks as (

    select distinct tasks.workflow_task_id
    from pillars
    inner join category_mappings
        on pillars.pillar_id = category_mappings.pillar_id
    inner join jobs
        on category_mappings.jtbd_id = jobs.jtbd_id
    inner join workflows
        on jobs.jtbd_id = workflows.jtbd_id
    inner join stages
        on workflows.workflow_id = stages.workflow_id
    inner join tasks
        on stages.workflow_stage_id = tasks.workflow_stage_id
    where pillars.pillar_code = 'SP03'

),

problems as (

    select
        'the walk from SP03 reaches no workflow task' as problem,
        null::uuid as workflow_task_id
    where
        not exists (select 1 from reached_tasks)

    union all

    select
        'task of SP03 not reached by the walk' as problem,
        expected_tasks.workflow_task_id
    from expected_tasks
    where
        not exists (
            select 1 from reached_tasks
            where reached_tasks.workflow_task_id = expected_tasks.workflow_task_id
        )

    union all

    select
        'task reached by the walk but not under SP03' as problem,
        reached_tasks.workflow_task_id
    from reached_tasks
    where not exists (
        select 1 from expected_tasks
        where expected_tasks.workflow_task_id = reached_tasks.workflow_task_id
    )

)

select * from problems
