{#-
    The filter panel's catalog (see the YAML): the maintained catalog, refreshed when its
    sources change, within the staleness bound its YAML states.
-#}

with

catalog as (

    select * from {{ ref('int_filter_options_catalogued') }}

)

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
    sort_order
from catalog
