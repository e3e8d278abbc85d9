-- A user's evaluation list (second specification document, target 800 ms): the user's live
-- evaluations, professional and enterprise tiers first, newest first, 20 at a time, with the
-- financial metrics and customer analytics sections of their professional data. The user is
-- the owner of the professional evaluation with the lowest id; the list is served by the
-- tier-aware (user_id, subscription_tier) index.

select
    evaluations.evaluation_id,
    evaluations.subscription_tier,
    evaluations.business_data,
    evaluations.professional_data -> 'financialMetrics' as financial_metrics,
    evaluations.professional_data -> 'customerAnalytics' as customer_analytics,
    evaluations.health_score,
    evaluations.status,
    evaluations.created_at
from {{ ref('professional_tier_current_evaluations') }} as evaluations
where
    evaluations.user_id = (
        select picked.user_id
        from {{ ref('professional_tier_current_evaluations') }} as picked
        where picked.subscription_tier = 'professional'
        order by picked.evaluation_id
        limit 1
    )
    and evaluations.deleted_at is null
order by
    evaluations.subscription_tier desc,
    evaluations.created_at desc,
    evaluations.evaluation_id asc
limit 20
