-- Filter panel, first load (specification 4.1): the top of the cascade (industries, functions,
-- departments) and every flat facet (archetype, complexity, frequency, strategic pillar, service
-- layer) of the pharmaceuticals tenant, in display order. Deeper levels load one parent at a
-- time (`filter_type = 'role' and parent_filter_id = <department>`). The predicates are on the
-- view's partition columns, so PostgreSQL pushes them into each branch of the catalog.

select *
from {{ ref('v_value_view_filter_options') }}
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and (level <= 3 or filter_group = 'facet')
order by level, filter_type, parent_filter_id, sort_order
