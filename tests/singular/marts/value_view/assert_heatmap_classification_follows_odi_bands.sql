{{ config(meta={'dagster': {'ref': {'name': 'mv_value_view_odi_heatmap', 'version': 1}}}) }}

-- Every heatmap classification is the first band of the odi_bands seed (in evaluation order)
-- whose rule holds for the row's scores, evaluated here in SQL against the seed rather than
-- through the odi_classification macro. Unscored rows must have no classification.

with

heatmap as (

    select * from {{ ref('mv_value_view_odi_heatmap') }}

),

odi_bands as (

    select * from {{ ref('odi_bands') }}

),

expected as (

    select
        heatmap.persona_id,
        heatmap.jtbd_id,
        heatmap.importance_score,
        heatmap.satisfaction_score,
        heatmap.opportunity_score,
        heatmap.opportunity_classification,
        (
            select odi_bands.classification
            from odi_bands
            where
                (
                    odi_bands.rule = 'opportunity_at_least'
                    and heatmap.opportunity_score >= odi_bands.min_opportunity_score
                )
                or (
                    odi_bands.rule = 'satisfaction_above_importance'
                    and heatmap.satisfaction_score > heatmap.importance_score
                )
                or odi_bands.rule = 'otherwise'
            order by odi_bands.evaluation_order
            limit 1
        ) as expected_classification

    from heatmap
    where heatmap.opportunity_score is not null

),

mismatches as (

    select
        persona_id,
        jtbd_id,
        opportunity_score,
        opportunity_classification,
        expected_classification

    from expected
    where opportunity_classification is distinct from expected_classification

    union all

    select
        persona_id,
        jtbd_id,
        opportunity_score,
        opportunity_classification,
        null as expected_classification

    from heatmap
    where opportunity_score is null and opportunity_classification is not null

)

select * from mismatches
