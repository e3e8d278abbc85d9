{#-
    The filter panel's catalog: hierarchy options and flat facets of every tenant, numbered for
    display within their (tenant, filter type, parent), kept as a maintained table (merged on its
    grain) that `v_value_view_filter_options` reads. See the YAML for the option semantics and the
    staleness bound.
-#}

with

hierarchy_options as (

    select * from {{ ref('int_filter_hierarchy_options_counted') }}

),

facet_options as (

    select * from {{ ref('int_filter_facet_options_counted') }}

),

all_options as (

    select
        'hierarchy' as filter_group,
        tenant_id,
        filter_type,
        level,
        filter_id,
        filter_value,
        filter_label,
        parent_filter_type,
        parent_filter_id,
        counted_entity_type,
        entity_count,
        natural_order
    from hierarchy_options
    union all
    select
        'facet' as filter_group,
        tenant_id,
        filter_type,
        level,
        filter_id,
        filter_value,
        filter_label,
        parent_filter_type,
        parent_filter_id,
        counted_entity_type,
        entity_count,
        natural_order
    from facet_options

),

ordered as (

    select
        tenant_id,
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
            -- filter_group and level follow from filter_type; partitioning by them too lets
            -- PostgreSQL push a panel's predicates on any of them below the window
            partition by tenant_id, filter_group, level, filter_type, parent_filter_id
            order by natural_order, filter_label, filter_value
        ) as sort_order
    from all_options

)

select * from ordered
