-- Professional query (second specification document, "Financial metrics comparison query",
-- target 2 s): professional-tier evaluations with an annual revenue above 1,000,000, largest
-- first, with their revenue, net profit and EBITDA - the specification's query on the serving
-- table, limited to 500 rows for a dashboard page (ties broken by id). Served by the b-tree on
-- the numeric annual revenue of professional evaluations: the specification's GIN index on
-- `financialMetrics` cannot answer a numeric comparison on `->>`.

select
    evaluations.evaluation_id,
    evaluations.user_id,
    evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue' as annual_revenue,
    evaluations.professional_data -> 'financialMetrics' ->> 'netProfit' as net_profit,
    evaluations.professional_data -> 'financialMetrics' ->> 'ebitda' as ebitda
from {{ ref('professional_tier_current_evaluations') }} as evaluations
where
    evaluations.subscription_tier = 'professional'
    and evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue' is not null
    and (evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue')::numeric
    > 1000000
order by
    (evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue')::numeric desc,
    evaluations.evaluation_id
limit 500
