{{ config(
    severity='warn',
    meta={'dagster': {'ref': {'name': 'v_value_view_dependency_graph', 'version': 1}}},
) }}

-- The dependency graph and the filter catalog see the same live entities: for every option of
-- the filter hierarchy, the entities it counts (personas below an organisation level, jobs of a
-- persona's role, workflows of a job, stages of a workflow) equal the ones reached by walking the
-- graph's edges from it, and every organisation unit, persona, job or workflow of the graph is
-- an option. Rejects, for instance, the stages of a workflow whose job is soft-deleted kept in
-- the graph while the catalog drops them. Warn severity, so that a source row the two handle
-- differently is reported without stopping the build; on the demo data it must pass
-- (tests_py/test_dbt_project.py).

with

graph as (

    select * from {{ ref('v_value_view_dependency_graph') }}

),

catalog as (

    select * from {{ ref('v_value_view_filter_options') }}
    where filter_group = 'hierarchy'

),

role_personas as (

    select
        source_id as role_id,
        target_id as persona_id

    from graph
    where edge_type = 'has_persona'

),

department_personas as (

    select
        graph.source_id as department_id,
        role_personas.persona_id

    from graph
    inner join role_personas
        on graph.target_id = role_personas.role_id
    where graph.edge_type = 'has_role'

),

function_personas as (

    select
        graph.source_id as function_id,
        department_personas.persona_id

    from graph
    inner join department_personas
        on graph.target_id = department_personas.department_id
    where graph.edge_type = 'has_department'

),

industry_personas as (

    select
        graph.source_id as industry_id,
        function_personas.persona_id

    from graph
    inner join function_personas
        on graph.target_id = function_personas.function_id
    where graph.edge_type = 'has_function'

),

persona_jobs as (

    select
        role_personas.persona_id,
        graph.source_id as jtbd_id

    from role_personas
    inner join graph
        on role_personas.role_id = graph.target_id
    where graph.edge_type = 'performed_by'

),

-- every entity of a level the catalog lists, as the graph knows it
graph_nodes as (

    select
        case
            when edge_type = 'has_function' then 'function'
            when edge_type = 'has_department' then 'department'
            when edge_type = 'has_role' then 'role'
            when edge_type = 'has_persona' then 'persona'
            when edge_type = 'influences' then 'jtbd'
            when edge_type = 'automated_by' then 'workflow'
        end as filter_type,
        target_id as filter_id

    from graph
    where
        edge_type in (
            'has_function', 'has_department', 'has_role', 'has_persona', 'influences',
            'automated_by'
        )

    union

    select
        case
            when edge_type = 'has_function' then 'industry'
            when edge_type in ('performed_by', 'automated_by', 'measured_by') then 'jtbd'
            when edge_type = 'has_stage' then 'workflow'
        end as filter_type,
        source_id as filter_id

    from graph
    where
        edge_type in ('has_function', 'performed_by', 'automated_by', 'measured_by', 'has_stage')

),

graph_counts as (

    select
        'industry' as filter_type,
        industry_id as filter_id,
        count(*) as entity_count

    from industry_personas
    group by industry_id

    union all

    select
        'function' as filter_type,
        function_id as filter_id,
        count(*) as entity_count

    from function_personas
    group by function_id

    union all

    select
        'department' as filter_type,
        department_id as filter_id,
        count(*) as entity_count

    from department_personas
    group by department_id

    union all

    select
        'role' as filter_type,
        role_id as filter_id,
        count(*) as entity_count

    from role_personas
    group by role_id

    union all

    select
        'persona' as filter_type,
        persona_id as filter_id,
        count(*) as entity_count

    from persona_jobs
    group by persona_id

    union all

    select
        case edge_type when 'automated_by' then 'jtbd' else 'workflow' end as filter_type,
        source_id as filter_id,
        count(*) as entity_count

    from graph
    where edge_type in ('automated_by', 'has_stage')
    group by edge_type, source_id

),

graph_options as (

    select
        graph_nodes.filter_type,
        graph_nodes.filter_id,
        coalesce(graph_counts.entity_count, 0) as entity_count

    from graph_nodes
    left join graph_counts
        on
            graph_nodes.filter_type = graph_counts.filter_type
            and graph_nodes.filter_id = graph_counts.filter_id

),

mismatches as (

    select
        coalesce(catalog.filter_type, graph_options.filter_type) as filter_type,
        coalesce(catalog.filter_id, graph_options.filter_id) as filter_id,
        catalog.counted_entity_type,
        catalog.entity_count as catalog_entity_count,
        graph_options.entity_count as graph_entity_count

    from catalog
    full outer join graph_options
        on
            catalog.filter_type = graph_options.filter_type
            and catalog.filter_id = graph_options.filter_id
    where
        catalog.filter_id is null
        or catalog.entity_count <> coalesce(graph_options.entity_count, 0)

)

select * from mismatches
