-- Value realization (specification 5.2): up to 5,000 of one tenant's value metrics, the most
-- recently measured first (value_metric_id breaks ties). Served by the
-- (tenant_id, measured_at, value_metric_id) index, scanned backwards.

select *
from {{ ref('mv_value_view_value_realization') }}
where tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
order by measured_at desc, value_metric_id desc
limit 5000
