{{ config(meta={'dagster': {'ref': {'name': 'mv_value_view_strategic_alignment', 'version': 1}}}) }}

-- Every tenant sees exactly the seven pillars of the strategic_pillars seed, with the seed's
-- codes and names: returns the (tenant, pillar) rows the mart misses and the rows it should not
-- have (an unknown code, a renamed pillar, a duplicate).

with

tenants as (

    select * from {{ ref('stg_vital__tenants') }}

),

seeded_pillars as (

    select * from {{ ref('strategic_pillars') }}

),

strategic_alignment as (

    select * from {{ ref('mv_value_view_strategic_alignment') }}

),

expected_rows as (

    select
        tenants.tenant_id,
        seeded_pillars.pillar_code,
        seeded_pillars.pillar_name

    from tenants
    cross join seeded_pillars

),

actual_rows as (

    select
        tenant_id,
        pillar_code,
        pillar_name

    from strategic_alignment

),

missing_rows as (

    select
        'seeded pillar missing for the tenant' as problem,
        missing.*

    from (
        select * from expected_rows
        except all
        select * from actual_rows
    ) as missing

),

unexpected_rows as (

    select
        'pillar row not in the seed' as problem,
        unexpected.*

    from (
        select * from actual_rows
        except all
        select * from expected_rows
    ) as unexpected

),

problems as (

    select * from missing_rows
    union all
    select * from unexpected_rows

)

select * from problems
