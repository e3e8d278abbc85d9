{#-
    One row per live job: the codes of the strategic pillars it is mapped to, sorted, as a text
    array (empty when the job is mapped to none), and how many there are.
-#}

with

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

category_mappings as (

    select * from {{ ref('stg_vital__jtbd_category_mappings') }}

),

pillars as (

    select * from {{ ref('stg_vital__strategic_pillars') }}

),

job_pillars as (

    select
        jobs.jtbd_id,
        coalesce(
            array_agg(distinct pillars.pillar_code order by pillars.pillar_code)
            filter (where pillars.pillar_code is not null),
            '{}'::text[]
        ) as strategic_pillars,
        count(distinct pillars.pillar_id) as pillars_count

    from jobs
    left join category_mappings
        on jobs.jtbd_id = category_mappings.jtbd_id
    left join pillars
        on category_mappings.pillar_id = pillars.pillar_id
    group by jobs.jtbd_id

)

select * from job_pillars
