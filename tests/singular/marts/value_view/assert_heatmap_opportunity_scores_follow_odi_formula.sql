{{ config(meta={'dagster': {'ref': {'name': 'mv_value_view_odi_heatmap', 'version': 1}}}) }}

-- Every heatmap score equals the ODI formula on the persona's source scores, written out here
-- independently of the odi_opportunity macro: importance + max(importance - satisfaction, 0).
-- Also rejects a pair whose importance or satisfaction differs from the source, and a score on a
-- pair that has no source scores.

with

heatmap as (

    select * from {{ ref('mv_value_view_odi_heatmap') }}

),

odi_scores as (

    select * from {{ ref('stg_vital__jtbd_odi_scores') }}

),

recomputed as (

    select
        heatmap.persona_id,
        heatmap.jtbd_id,
        heatmap.importance_score,
        heatmap.satisfaction_score,
        heatmap.opportunity_score,
        odi_scores.importance_score as source_importance_score,
        odi_scores.satisfaction_score as source_satisfaction_score,
        odi_scores.importance_score
        + case
            when odi_scores.importance_score > odi_scores.satisfaction_score
                then odi_scores.importance_score - odi_scores.satisfaction_score
            else 0
        end as expected_opportunity_score

    from heatmap
    left join odi_scores
        on
            heatmap.persona_id = odi_scores.persona_id
            and heatmap.jtbd_id = odi_scores.jtbd_id

),

mismatches as (

    select * from recomputed
    where
        opportunity_score is distinct from expected_opportunity_score
        or importance_score is distinct from source_importance_score
        or satisfaction_score is distinct from source_satisfaction_score

)

select * from mismatches
