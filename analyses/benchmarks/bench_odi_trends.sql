-- ODI trends: the pharmaceuticals tenant's jobs whose score moved most over 30 days, the way a
-- trend dashboard lists them. Served by the (tenant_id, grain, change_30_days) index.

select *
from {{ ref('value_view_odi_trends') }}
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and grain = 'jtbd'
    and change_30_days is not null
order by change_30_days desc, jtbd_code asc
limit 1000
