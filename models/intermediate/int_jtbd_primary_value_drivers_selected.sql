{#-
    One row per live job: its top-priority reference opportunity (lowest priority_rank, ties
    broken by id) and the value driver that opportunity names. The primary value category is that
    driver's category, or 'unknown' when the job has no opportunity or its top one names no
    driver, as in the specification's heatmap.
-#}

with

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

ref_opportunities as (

    select * from {{ ref('stg_vital__ref_opportunities') }}

),

value_drivers as (

    select * from {{ ref('stg_vital__ref_value_drivers') }}

),

ranked_opportunities as (

    select
        jtbd_id,
        ref_opportunity_id,
        value_driver_id,
        row_number() over (
            partition by jtbd_id
            order by priority_rank, ref_opportunity_id
        ) as priority_position,
        count(*) over (partition by jtbd_id) as ref_opportunities_count

    from ref_opportunities

),

top_opportunities as (

    select * from ranked_opportunities
    where priority_position = 1

),

primary_value_drivers as (

    select
        jobs.jtbd_id,
        top_opportunities.ref_opportunity_id as primary_ref_opportunity_id,
        value_drivers.value_driver_id,
        value_drivers.value_driver_code,
        value_drivers.value_driver_name,
        coalesce(value_drivers.value_category, 'unknown') as primary_value_category,
        coalesce(top_opportunities.ref_opportunities_count, 0) as ref_opportunities_count

    from jobs
    left join top_opportunities
        on jobs.jtbd_id = top_opportunities.jtbd_id
    left join value_drivers
        on top_opportunities.value_driver_id = value_drivers.value_driver_id

)

select * from primary_value_drivers
