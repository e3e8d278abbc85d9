-- Workflow analytics (specification 5.2): up to 500 of one tenant's workflows, the most
-- automatable first (workflow_id breaks ties). Served by the
-- (tenant_id, automatable_tasks_pct, workflow_id) index, scanned backwards.

select *
from {{ ref('mv_value_view_workflow_analytics') }}
where tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
order by automatable_tasks_pct desc, workflow_id desc
limit 500
