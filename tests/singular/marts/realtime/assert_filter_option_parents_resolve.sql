-- Every option of v_value_view_filter_options that names a parent points at an existing option
-- of the parent's filter type, in the same tenant, one level up the cascade; parent type and id
-- are set together. Fails with one row per broken option.

with

options as (

    select * from {{ ref('v_value_view_filter_options') }}

),

half_set_parents as (

    select
        'parent_filter_type and parent_filter_id are not set together' as problem,
        tenant_id,
        filter_type,
        filter_value,
        parent_filter_type,
        parent_filter_id
    from options
    where (parent_filter_type is null) <> (parent_filter_id is null)

),

orphans as (

    select
        'parent option does not exist one level up in the same tenant' as problem,
        children.tenant_id,
        children.filter_type,
        children.filter_value,
        children.parent_filter_type,
        children.parent_filter_id
    from options as children
    where
        children.parent_filter_id is not null
        and not exists (
            select 1
            from options as parents
            where
                parents.tenant_id = children.tenant_id
                and parents.filter_type = children.parent_filter_type
                and parents.filter_id = children.parent_filter_id
                and parents.level = children.level - 1
        )

),

problems as (

    select * from half_set_parents
    union all
    select * from orphans

)

select * from problems
