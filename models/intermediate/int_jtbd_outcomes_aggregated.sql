{#-
    One row per job that has desired outcomes (L5), with their ODI picture; the marts keep the
    live jobs. Each outcome's opportunity and classification come from the ODI macros on its
    importance and satisfaction (as for the persona scores); averages are unrounded (the mart
    rounds once).
-#}

with

outcomes as (

    select * from {{ ref('stg_vital__jtbd_outcomes') }}

),

outcomes_scored as (

    select
        jtbd_id,
        outcome_id,
        importance_score,
        satisfaction_score,
        {{ odi_opportunity('importance_score', 'satisfaction_score') }}::numeric(4, 2)
            as opportunity_score

    from outcomes

),

outcomes_classified as (

    select
        jtbd_id,
        outcome_id,
        importance_score,
        satisfaction_score,
        opportunity_score,
        {{ odi_classification('opportunity_score', 'importance_score', 'satisfaction_score') }}
            as opportunity_classification

    from outcomes_scored

),

job_outcomes as (

    select
        jtbd_id,
        count(*) as outcomes_count,
        count(opportunity_score) as scored_outcomes_count,
        avg(importance_score) as avg_outcome_importance_score,
        avg(satisfaction_score) as avg_outcome_satisfaction_score,
        avg(opportunity_score) as avg_outcome_opportunity_score,
        max(opportunity_score) as max_outcome_opportunity_score,
        count(*) filter (
            where opportunity_classification in ('highly_underserved', 'underserved')
        ) as underserved_outcomes_count

    from outcomes_classified
    group by jtbd_id

)

select * from job_outcomes
