-- Strategic alignment (specification 5.2): the seven pillars of one tenant, in pillar order.
-- The whole mart holds seven rows per tenant (one page), so PostgreSQL rightly reads it with a
-- sequential scan; the (tenant_id, pillar_code) index takes over once there are many tenants.

select *
from {{ ref('mv_value_view_strategic_alignment') }}
where tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
order by pillar_code
