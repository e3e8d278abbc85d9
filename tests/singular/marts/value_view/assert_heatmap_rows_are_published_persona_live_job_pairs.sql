{{ config(meta={'dagster': {'ref': {'name': 'mv_value_view_odi_heatmap', 'version': 1}}}) }}

-- The heatmap holds exactly one row per published persona x live job performed by the persona's
-- role, recomputed here from staging: returns the pairs it misses and the rows it should not have.
-- Personas are those placed in the organisation (int_published_personas_joined): a persona whose
-- role, department or function the quarantine rejected has no place in the heatmap.

with

personas as (

    select * from {{ ref('int_published_personas_joined') }}

),

jtbd_roles as (

    select * from {{ ref('stg_vital__jtbd_roles') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

heatmap as (

    select * from {{ ref('mv_value_view_odi_heatmap') }}

),

expected_pairs as (

    select
        personas.tenant_id,
        personas.persona_id,
        jobs.jtbd_id

    from personas
    inner join jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    inner join jobs
        on jtbd_roles.jtbd_id = jobs.jtbd_id

),

heatmap_pairs as (

    select
        tenant_id,
        persona_id,
        jtbd_id

    from heatmap

),

missing_from_heatmap as (

    select
        'missing from the heatmap' as problem,
        missing.*

    from (
        select * from expected_pairs
        except all
        select * from heatmap_pairs
    ) as missing

),

unexpected_in_heatmap as (

    select
        'not a published persona x live job pair' as problem,
        unexpected.*

    from (
        select * from heatmap_pairs
        except all
        select * from expected_pairs
    ) as unexpected

),

problems as (

    select * from missing_from_heatmap
    union all
    select * from unexpected_in_heatmap

)

select * from problems
