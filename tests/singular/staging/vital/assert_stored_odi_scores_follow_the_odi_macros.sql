{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'stg_vital__jtbd_odi_scores'}}}) }}

-- The application stores an opportunity score and a classification on every job x persona ODI
-- score and an opportunity score on every outcome. Returns the rows where a stored value differs
-- from what the project's ODI macros compute from the same importance and satisfaction.
-- A warning, not an error: the marts read the recomputed values (int_odi_scores_classified), so
-- a drift in the application's copy must not block them, but it must be seen.

with

odi_scores as (

    select * from {{ ref('stg_vital__jtbd_odi_scores') }}

),

outcomes as (

    select * from {{ ref('stg_vital__jtbd_outcomes') }}

),

recomputed_scores as (

    select
        odi_score_id as row_id,
        'jtbd_odi_scores' as source_table,
        importance_score,
        satisfaction_score,
        opportunity_score as stored_opportunity_score,
        opportunity_classification as stored_classification,
        {{ odi_opportunity('importance_score', 'satisfaction_score') }}
            as recomputed_opportunity_score,
        {{ odi_classification(
            odi_opportunity('importance_score', 'satisfaction_score'),
            'importance_score',
            'satisfaction_score',
        ) }} as recomputed_classification

    from odi_scores

),

recomputed_outcomes as (

    select
        outcome_id as row_id,
        'jtbd_outcomes' as source_table,
        importance_score,
        satisfaction_score,
        opportunity_score as stored_opportunity_score,
        null::text as stored_classification,
        {{ odi_opportunity('importance_score', 'satisfaction_score') }}
            as recomputed_opportunity_score,
        null::text as recomputed_classification

    from outcomes

),

recomputed as (

    select * from recomputed_scores
    union all
    select * from recomputed_outcomes

),

drifted as (

    select * from recomputed
    where
        stored_opportunity_score <> recomputed_opportunity_score
        or stored_classification is distinct from recomputed_classification

)

select * from drifted
