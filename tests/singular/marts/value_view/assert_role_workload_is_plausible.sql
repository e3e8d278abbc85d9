{{ config(
    severity='warn',
    meta={'dagster': {'ref': {'name': 'mv_value_view_role_workload', 'version': 1}}},
) }}

-- A plausibility check a workforce planner would make: most roles (at least three in four of
-- those with people) carry between 0.3 and 1.2 of a full-time year of modelled work per head,
-- and none carries more than two. Warns (does not fail the build) with one row per role past
-- two full-time years, or one summary row when too few roles are in the plausible band: the
-- figures are only as good as the time shares and durations in the sources.

with

roles as (

    select * from {{ ref('mv_value_view_role_workload') }}
    where headcount > 0

),

band as (

    select
        count(*) as roles_count,
        count(*) filter (where utilisation between 0.3 and 1.2) as plausible_roles_count

    from roles

),

implausible as (

    select
        'role past two full-time years per head' as finding,
        role_id,
        utilisation,
        null::bigint as roles_count,
        null::bigint as plausible_roles_count

    from roles
    where utilisation > 2

    union all

    select
        'fewer than three in four roles at 0.3-1.2 full-time years per head' as finding,
        null::uuid as role_id,
        null::numeric as utilisation,
        roles_count,
        plausible_roles_count

    from band
    where plausible_roles_count < 0.75 * roles_count

)

select * from implausible
