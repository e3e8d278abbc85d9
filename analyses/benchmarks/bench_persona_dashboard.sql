-- Persona dashboard (specification 5.2): one persona of the pharmaceuticals tenant, looked up
-- by name the way the dashboard's persona picker does. Served by the (tenant_id, persona_name)
-- index.

select *
from {{ ref('mv_value_view_persona_dashboard') }}
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and persona_name = 'Automation-First Pricing Analyst'
