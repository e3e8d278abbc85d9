-- ODI heatmap, filtered (specification 5.2): one tenant's AUTOMATOR jobs with an opportunity
-- score of at least 10, best first. The specification's query plus the tenant filter every
-- dashboard query carries; persona_id and jtbd_id break ties so the answer is deterministic.
-- Served by the (tenant_id, archetype, opportunity_score, persona_id, jtbd_id) index, scanned
-- backwards.

select *
from {{ ref('mv_value_view_odi_heatmap') }}
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and archetype = 'AUTOMATOR'
    and opportunity_score >= 10
order by opportunity_score desc, persona_id desc, jtbd_id desc
limit 100
