{{ config(meta={'dagster': {'ref': {'name': 'mv_value_view_jtbd_summary', 'version': 1}}}) }}

-- Every job of the summary carries its desired outcomes (L5): their number, the underserved
-- ones and their ODI averages equal a recomputation from the staged outcomes, with the ODI
-- formula written out (importance + max(importance - satisfaction, 0)) and the averages rounded
-- once. Rejects a job whose outcomes are missing or miscounted.

with

jobs as (

    select * from {{ ref('mv_value_view_jtbd_summary') }}

),

outcomes as (

    select * from {{ ref('stg_vital__jtbd_outcomes') }}

),

outcome_scores as (

    select
        jtbd_id,
        importance_score,
        satisfaction_score,
        importance_score
        + case
            when importance_score > satisfaction_score
                then importance_score - satisfaction_score
            else 0
        end as opportunity_score

    from outcomes

),

expected as (

    select
        jtbd_id,
        count(*) as outcomes_count,
        count(*) filter (where opportunity_score >= 10) as underserved_outcomes_count,
        round(avg(importance_score), 2) as avg_outcome_importance_score,
        round(avg(satisfaction_score), 2) as avg_outcome_satisfaction_score,
        round(avg(opportunity_score), 1) as avg_outcome_opportunity_score,
        max(opportunity_score) as max_outcome_opportunity_score

    from outcome_scores
    group by jtbd_id

),

mismatches as (

    select
        jobs.jtbd_id,
        jobs.outcomes_count,
        expected.outcomes_count as expected_outcomes_count

    from jobs
    left join expected
        on jobs.jtbd_id = expected.jtbd_id
    where
        jobs.outcomes_count <> coalesce(expected.outcomes_count, 0)
        or jobs.underserved_outcomes_count <> coalesce(expected.underserved_outcomes_count, 0)
        or jobs.avg_outcome_importance_score
        is distinct from expected.avg_outcome_importance_score
        or jobs.avg_outcome_satisfaction_score
        is distinct from expected.avg_outcome_satisfaction_score
        or jobs.avg_outcome_opportunity_score
        is distinct from expected.avg_outcome_opportunity_score
        or jobs.max_outcome_opportunity_score
        is distinct from expected.max_outcome_opportunity_score

)

select * from mismatches
