-- Single evaluation fetch (second specification document, target 300 ms): one live
-- professional or enterprise evaluation by id and owner, with the fields the application
-- selects. The evaluation is the professional/enterprise one with the lowest id, picked through
-- the unique evaluation_id index so the pick itself stays an index scan.

with

picked as (

    select
        evaluation_id,
        user_id
    from {{ ref('professional_tier_current_evaluations') }}
    where subscription_tier in ('professional', 'enterprise')
    order by evaluation_id
    limit 1

)

select
    evaluations.evaluation_id,
    evaluations.business_data,
    evaluations.professional_data,
    evaluations.valuations,
    evaluations.health_score,
    evaluations.confidence_score,
    evaluations.opportunities,
    evaluations.status,
    evaluations.subscription_tier,
    evaluations.analysis_depth,
    evaluations.data_version,
    evaluations.created_at,
    evaluations.updated_at
from {{ ref('professional_tier_current_evaluations') }} as evaluations
inner join picked
    on
        evaluations.evaluation_id = picked.evaluation_id
        and evaluations.user_id = picked.user_id
where
    evaluations.deleted_at is null
    and evaluations.subscription_tier in ('professional', 'enterprise')
