-- Peer benchmarks: the pharmaceuticals tenant's jobs beside their peers, the way a benchmark
-- dashboard lists them by job code. Served by the (tenant_id, grain, jtbd_code) index.

select *
from {{ ref('value_view_peer_benchmarks') }}
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and grain = 'jtbd'
order by jtbd_code asc
limit 1000
