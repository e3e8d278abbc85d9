{#-
    One row per live job: its ODI picture across the published personas that perform it (the
    heatmap pairs). Averages are over scored pairs and rounded to one decimal, the precision the
    specification gives opportunity averages.
-#}

with

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

pairs as (

    select * from {{ ref('int_persona_jtbd_pairs_joined') }}

),

job_scores as (

    select
        jtbd_id,
        count(*) as personas_count,
        count(opportunity_score) as scored_personas_count,
        round(avg(opportunity_score), 1) as avg_opportunity_score,
        max(opportunity_score) as max_opportunity_score,
        count(*) filter (
            where opportunity_classification = 'highly_underserved'
        ) as highly_underserved_count,
        count(*) filter (where opportunity_classification = 'underserved') as underserved_count,
        count(*) filter (
            where opportunity_classification = 'appropriately_served'
        ) as appropriately_served_count,
        count(*) filter (where opportunity_classification = 'overserved') as overserved_count

    from pairs
    group by jtbd_id

),

job_totals as (

    select
        jobs.jtbd_id,
        coalesce(job_scores.personas_count, 0) as personas_count,
        coalesce(job_scores.scored_personas_count, 0) as scored_personas_count,
        job_scores.avg_opportunity_score,
        job_scores.max_opportunity_score,
        coalesce(job_scores.highly_underserved_count, 0) as highly_underserved_count,
        coalesce(job_scores.underserved_count, 0) as underserved_count,
        coalesce(job_scores.appropriately_served_count, 0) as appropriately_served_count,
        coalesce(job_scores.overserved_count, 0) as overserved_count

    from jobs
    left join job_scores
        on jobs.jtbd_id = job_scores.jtbd_id

)

select * from job_totals
