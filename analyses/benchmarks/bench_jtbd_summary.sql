-- JTBD summary: one tenant's underserved jobs (average opportunity score of at least 10), the
-- most underserved first (jtbd_id breaks ties), up to 1,000. Served by the
-- (tenant_id, avg_opportunity_score, jtbd_id) index, scanned backwards.

select *
from {{ ref('mv_value_view_jtbd_summary') }}
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and avg_opportunity_score >= 10
order by avg_opportunity_score desc, jtbd_id desc
limit 1000
