-- Opportunity pipeline (specification 1.2, real time): the open AI opportunities of the
-- pharmaceuticals tenant - not yet delivered or rejected - with the most underserved jobs first.

select *
from {{ ref('mv_value_view_opportunity_pipeline') }}
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and status in ('identified', 'evaluating', 'approved', 'in_progress')
order by
    avg_opportunity_score desc nulls last,
    estimated_cost_savings_usd desc,
    ai_opportunity_id asc
