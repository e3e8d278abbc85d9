{#-
    Flat (non-cascading) filter options per tenant: archetype, complexity, frequency, strategic
    pillar and service layer, each with the number of personas or jobs it selects.
    Archetypes, pillars and service layers list every value of their reference list (count 0
    included); complexity and frequency list the values the tenant's jobs use.
-#}

with

tenants as (

    select * from {{ ref('stg_vital__tenants') }}

),

personas as (

    select * from {{ ref('stg_vital__personas') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

category_mappings as (

    select * from {{ ref('stg_vital__jtbd_category_mappings') }}

),

pillars as (

    select * from {{ ref('stg_vital__strategic_pillars') }}

),

suitability as (

    select * from {{ ref('stg_vital__jtbd_ai_suitability') }}

),

pillar_reference as (

    select * from {{ ref('strategic_pillars') }}

),

archetypes as (

    select * from {{ ref('persona_archetypes') }}

),

service_layers as (

    select * from {{ ref('service_layers') }}

),

archetype_options as (

    select
        tenants.tenant_id,
        'archetype' as filter_type,
        null::uuid as filter_id,
        archetypes.archetype as filter_value,
        archetypes.archetype_label as filter_label,
        'persona' as counted_entity_type,
        count(personas.persona_id) as entity_count,
        archetypes.archetype_order as natural_order
    from tenants
    cross join archetypes
    left join personas
        on
            tenants.tenant_id = personas.tenant_id
            and archetypes.archetype = personas.archetype
    group by
        tenants.tenant_id,
        archetypes.archetype,
        archetypes.archetype_label,
        archetypes.archetype_order

),

complexity_options as (

    select
        tenant_id,
        'complexity' as filter_type,
        null::uuid as filter_id,
        complexity as filter_value,
        initcap(replace(complexity, '_', ' ')) as filter_label,
        'jtbd' as counted_entity_type,
        count(*) as entity_count,
        array_position(array['low', 'medium', 'high', 'very_high'], complexity) as natural_order
    from jobs
    group by tenant_id, complexity

),

frequency_options as (

    select
        tenant_id,
        'frequency' as filter_type,
        null::uuid as filter_id,
        frequency as filter_value,
        initcap(frequency) as filter_label,
        'jtbd' as counted_entity_type,
        count(*) as entity_count,
        array_position(
            array['daily', 'weekly', 'monthly', 'quarterly', 'annually'], frequency
        ) as natural_order
    from jobs
    group by tenant_id, frequency

),

mapped_jobs as (

    select
        jobs.tenant_id,
        category_mappings.pillar_id,
        jobs.jtbd_id
    from category_mappings
    inner join jobs
        on category_mappings.jtbd_id = jobs.jtbd_id

),

pillar_options as (

    select
        tenants.tenant_id,
        'strategic_pillar' as filter_type,
        pillars.pillar_id as filter_id,
        pillars.pillar_code as filter_value,
        pillars.pillar_name as filter_label,
        'jtbd' as counted_entity_type,
        count(distinct mapped_jobs.jtbd_id) as entity_count,
        pillar_reference.pillar_order as natural_order
    from tenants
    cross join pillars
    left join pillar_reference
        on pillars.pillar_code = pillar_reference.pillar_code
    left join mapped_jobs
        on
            tenants.tenant_id = mapped_jobs.tenant_id
            and pillars.pillar_id = mapped_jobs.pillar_id
    group by
        tenants.tenant_id,
        pillars.pillar_id,
        pillars.pillar_code,
        pillars.pillar_name,
        pillar_reference.pillar_order

),

assessed_jobs as (

    select
        jobs.tenant_id,
        suitability.recommended_service_layer,
        jobs.jtbd_id
    from suitability
    inner join jobs
        on suitability.jtbd_id = jobs.jtbd_id

),

service_layer_options as (

    select
        tenants.tenant_id,
        'service_layer' as filter_type,
        null::uuid as filter_id,
        service_layers.service_layer as filter_value,
        service_layers.service_layer_name as filter_label,
        'jtbd' as counted_entity_type,
        count(assessed_jobs.jtbd_id) as entity_count,
        service_layers.service_layer_order as natural_order
    from tenants
    cross join service_layers
    left join assessed_jobs
        on
            tenants.tenant_id = assessed_jobs.tenant_id
            and service_layers.service_layer = assessed_jobs.recommended_service_layer
    group by
        tenants.tenant_id,
        service_layers.service_layer,
        service_layers.service_layer_name,
        service_layers.service_layer_order

),

enum_options as (

    select * from archetype_options
    union all
    select * from complexity_options
    union all
    select * from frequency_options
    union all
    select * from pillar_options
    union all
    select * from service_layer_options

),

final as (

    select
        tenant_id,
        filter_type,
        0 as level,
        filter_id,
        filter_value,
        filter_label,
        null::text as parent_filter_type,
        null::uuid as parent_filter_id,
        counted_entity_type,
        entity_count,
        natural_order
    from enum_options

)

select * from final
