{{ config(meta={'dagster': {'ref': {'name': 'mv_value_view_jtbd_summary', 'version': 1}}}) }}

-- Each job's persona count, classification counts and highest opportunity score in the jtbd
-- summary equal what its rows in the heatmap add up to (jobs without heatmap rows count zero).

with

jtbd_summary as (

    select * from {{ ref('mv_value_view_jtbd_summary') }}

),

heatmap as (

    select * from {{ ref('mv_value_view_odi_heatmap') }}

),

heatmap_jobs as (

    select
        jtbd_id,
        count(*) as personas_count,
        count(opportunity_score) as scored_personas_count,
        max(opportunity_score) as max_opportunity_score,
        count(*) filter (
            where opportunity_classification = 'highly_underserved'
        ) as highly_underserved_count,
        count(*) filter (where opportunity_classification = 'underserved') as underserved_count,
        count(*) filter (
            where opportunity_classification = 'appropriately_served'
        ) as appropriately_served_count,
        count(*) filter (where opportunity_classification = 'overserved') as overserved_count

    from heatmap
    group by jtbd_id

),

compared as (

    select
        jtbd_summary.jtbd_id,
        jtbd_summary.personas_count,
        coalesce(heatmap_jobs.personas_count, 0) as heatmap_personas_count,
        jtbd_summary.scored_personas_count,
        coalesce(heatmap_jobs.scored_personas_count, 0) as heatmap_scored_personas_count,
        jtbd_summary.max_opportunity_score,
        heatmap_jobs.max_opportunity_score as heatmap_max_opportunity_score,
        jtbd_summary.highly_underserved_count,
        coalesce(heatmap_jobs.highly_underserved_count, 0) as heatmap_highly_underserved_count,
        jtbd_summary.underserved_count,
        coalesce(heatmap_jobs.underserved_count, 0) as heatmap_underserved_count,
        jtbd_summary.appropriately_served_count,
        coalesce(heatmap_jobs.appropriately_served_count, 0)
            as heatmap_appropriately_served_count,
        jtbd_summary.overserved_count,
        coalesce(heatmap_jobs.overserved_count, 0) as heatmap_overserved_count

    from jtbd_summary
    left join heatmap_jobs
        on jtbd_summary.jtbd_id = heatmap_jobs.jtbd_id

),

disagreements as (

    select * from compared
    where
        personas_count <> heatmap_personas_count
        or scored_personas_count <> heatmap_scored_personas_count
        or max_opportunity_score is distinct from heatmap_max_opportunity_score
        or highly_underserved_count <> heatmap_highly_underserved_count
        or underserved_count <> heatmap_underserved_count
        or appropriately_served_count <> heatmap_appropriately_served_count
        or overserved_count <> heatmap_overserved_count

)

select * from disagreements
