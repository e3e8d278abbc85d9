{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_filter_options: the first load of the pharmaceuticals tenant's filter
-- panel computed from the VITAL source tables - industries, functions and departments with the
-- personas below them, and the flat facets (archetype, complexity, frequency, strategic pillar,
-- service layer) with the personas or live jobs they select - numbered and ordered like the
-- view. The enumerations' values and labels are spelled out here, where the view reads the
-- reference seeds.

with

org_tree as (

    select
        industries.tenant_id,
        industries.id as industry_id,
        industries.industry_name,
        business_functions.id as function_id,
        business_functions.function_name,
        departments.id as department_id,
        departments.department_name,
        personas.id as persona_id

    from {{ source('vital', 'industries') }} as industries
    left join {{ source('vital', 'org_business_functions') }} as business_functions
        on industries.id = business_functions.industry_id
    left join {{ source('vital', 'org_departments') }} as departments
        on business_functions.id = departments.function_id
    left join {{ source('vital', 'org_roles') }} as roles
        on departments.id = roles.department_id
    left join {{ source('vital', 'personas') }} as personas
        on roles.id = personas.role_id
    where industries.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

),

tenant_jobs as (

    select * from {{ source('vital', 'jtbd') }}
    where
        deleted_at is null
        and tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

),

archetypes as (

    select
        archetype,
        position as natural_order
    from
        unnest(array['AUTOMATOR', 'ORCHESTRATOR', 'LEARNER', 'SKEPTIC'])
        with ordinality as listed (archetype, position)

),

service_layers as (

    select
        service_layer,
        position as natural_order
    from
        unnest(array['ask_me', 'ask_expert', 'ask_panel', 'workflow'])
        with ordinality as listed (service_layer, position)

),

options as (

    select
        'hierarchy' as filter_group,
        'industry' as filter_type,
        1 as level,
        industry_id as filter_id,
        industry_id::text as filter_value,
        industry_name as filter_label,
        null as parent_filter_type,
        null::uuid as parent_filter_id,
        count(persona_id) as entity_count,
        'persona' as counted_entity_type,
        null::bigint as natural_order
    from org_tree
    group by industry_id, industry_name

    union all

    select
        'hierarchy' as filter_group,
        'function' as filter_type,
        2 as level,
        function_id as filter_id,
        function_id::text as filter_value,
        function_name as filter_label,
        'industry' as parent_filter_type,
        industry_id as parent_filter_id,
        count(persona_id) as entity_count,
        'persona' as counted_entity_type,
        null::bigint as natural_order
    from org_tree
    where function_id is not null
    group by function_id, function_name, industry_id

    union all

    select
        'hierarchy' as filter_group,
        'department' as filter_type,
        3 as level,
        department_id as filter_id,
        department_id::text as filter_value,
        department_name as filter_label,
        'function' as parent_filter_type,
        function_id as parent_filter_id,
        count(persona_id) as entity_count,
        'persona' as counted_entity_type,
        null::bigint as natural_order
    from org_tree
    where department_id is not null
    group by department_id, department_name, function_id

    union all

    select
        'facet' as filter_group,
        'archetype' as filter_type,
        0 as level,
        null::uuid as filter_id,
        archetypes.archetype as filter_value,
        initcap(archetypes.archetype) as filter_label,
        null as parent_filter_type,
        null::uuid as parent_filter_id,
        count(personas.id) as entity_count,
        'persona' as counted_entity_type,
        archetypes.natural_order
    from archetypes
    left join {{ source('vital', 'personas') }} as personas
        on
            archetypes.archetype = personas.archetype::text
            and personas.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    group by archetypes.archetype, archetypes.natural_order

    union all

    select
        'facet' as filter_group,
        'complexity' as filter_type,
        0 as level,
        null::uuid as filter_id,
        complexity as filter_value,
        initcap(replace(complexity, '_', ' ')) as filter_label,
        null as parent_filter_type,
        null::uuid as parent_filter_id,
        count(*) as entity_count,
        'jtbd' as counted_entity_type,
        array_position(array['low', 'medium', 'high', 'very_high'], complexity) as natural_order
    from tenant_jobs
    group by complexity

    union all

    select
        'facet' as filter_group,
        'frequency' as filter_type,
        0 as level,
        null::uuid as filter_id,
        frequency as filter_value,
        initcap(frequency) as filter_label,
        null as parent_filter_type,
        null::uuid as parent_filter_id,
        count(*) as entity_count,
        'jtbd' as counted_entity_type,
        array_position(
            array['daily', 'weekly', 'monthly', 'quarterly', 'annually'], frequency
        ) as natural_order
    from tenant_jobs
    group by frequency

    union all

    select
        'facet' as filter_group,
        'strategic_pillar' as filter_type,
        0 as level,
        pillars.id as filter_id,
        pillars.code as filter_value,
        pillars.name as filter_label,
        null as parent_filter_type,
        null::uuid as parent_filter_id,
        count(distinct tenant_jobs.id) as entity_count,
        'jtbd' as counted_entity_type,
        null::bigint as natural_order
    from {{ source('vital', 'strategic_pillars') }} as pillars
    left join {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
        on pillars.id = category_mappings.pillar_id
    left join tenant_jobs
        on category_mappings.jtbd_id = tenant_jobs.id
    group by pillars.id, pillars.code, pillars.name

    union all

    select
        'facet' as filter_group,
        'service_layer' as filter_type,
        0 as level,
        null::uuid as filter_id,
        service_layers.service_layer as filter_value,
        initcap(replace(service_layers.service_layer, '_', ' ')) as filter_label,
        null as parent_filter_type,
        null::uuid as parent_filter_id,
        count(tenant_jobs.id) as entity_count,
        'jtbd' as counted_entity_type,
        service_layers.natural_order
    from service_layers
    left join {{ source('vital', 'jtbd_ai_suitability') }} as ai_suitability
        on service_layers.service_layer = ai_suitability.recommended_service_layer
    left join tenant_jobs
        on ai_suitability.jtbd_id = tenant_jobs.id
    group by service_layers.service_layer, service_layers.natural_order

),

numbered as (

    select
        'f7aa6fd4-0af9-4706-8b31-034f1f7accda'::uuid as tenant_id,
        filter_group,
        filter_type,
        level,
        filter_id,
        filter_value,
        filter_label,
        parent_filter_type,
        parent_filter_id,
        entity_count,
        counted_entity_type,
        row_number() over (
            partition by filter_type, parent_filter_id
            order by
                case when filter_type = 'strategic_pillar' then filter_value end,
                natural_order,
                filter_label,
                filter_value
        ) as sort_order
    from options

)

select * from numbered
order by level, filter_type, parent_filter_id, sort_order
