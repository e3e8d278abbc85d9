-- Role workload: one tenant's 100 busiest roles by frequency-weighted annual hours (role_id
-- breaks ties). Served by the (tenant_id, estimated_annual_hours, role_id) index, scanned
-- backwards.

select *
from {{ ref('mv_value_view_role_workload') }}
where tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
order by estimated_annual_hours desc, role_id desc
limit 100
