{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_professional_query: the specification's financial metrics query on the
-- source table as written (its GIN index on `financialMetrics` cannot serve the numeric
-- comparison), restricted to live rows like the serving table, same order and limit.

select
    evaluations.id as evaluation_id,
    evaluations.user_id,
    evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue' as annual_revenue,
    evaluations.professional_data -> 'financialMetrics' ->> 'netProfit' as net_profit,
    evaluations.professional_data -> 'financialMetrics' ->> 'ebitda' as ebitda
from {{ source('evaluations', 'business_evaluations') }} as evaluations
where
    evaluations.subscription_tier = 'professional'
    and evaluations.deleted_at is null
    and evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue' is not null
    and (evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue')::numeric
    > 1000000
order by
    (evaluations.professional_data -> 'financialMetrics' ->> 'annualRevenue')::numeric desc,
    evaluations.id
limit 500
