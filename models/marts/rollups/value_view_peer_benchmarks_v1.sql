{#-
    Anonymous peer benchmarks: each tenant's own opportunity score per job code and per strategic
    pillar beside the distribution of the same figure over the other tenants only. Figures are
    published only where at least `min_peers` other tenants contribute (k-anonymity); below that
    the row says 'too few peers' and every peer figure, the count included, is null. Only order
    statistics and a count are published, never a mean or a sum, and each figure is rounded once,
    at the end.
-#}

{% set min_peers = 5 %}

with

pairs as (

    select * from {{ ref('int_persona_jtbd_pairs_joined') }}

),

job_pillars as (

    select * from {{ ref('int_jtbd_pillars_aggregated') }}

),

job_scores as (

    select
        tenant_id,
        jtbd_id,
        jtbd_code,
        avg(opportunity_score) as opportunity_score

    from pairs
    where opportunity_score is not null
    group by tenant_id, jtbd_id, jtbd_code

),

pillar_scores as (

    select
        job_scores.tenant_id,
        pillar_codes.pillar_code,
        avg(job_scores.opportunity_score) as opportunity_score

    from job_scores
    inner join job_pillars
        on job_scores.jtbd_id = job_pillars.jtbd_id
    cross join lateral unnest(job_pillars.strategic_pillars) as pillar_codes (pillar_code)
    group by job_scores.tenant_id, pillar_codes.pillar_code

),

subject_scores as (

    select
        'jtbd' as grain,
        tenant_id,
        jtbd_code as subject_code,
        opportunity_score

    from job_scores

    union all

    select
        'pillar' as grain,
        tenant_id,
        pillar_code as subject_code,
        opportunity_score

    from pillar_scores

),

peer_figures as (

    select
        own.grain,
        own.tenant_id,
        own.subject_code,
        count(peers.tenant_id) as peer_tenant_count,
        percentile_cont(0.5) within group (order by peers.opportunity_score) as peer_median,
        percentile_cont(0.25) within group (order by peers.opportunity_score) as peer_p25,
        percentile_cont(0.75) within group (order by peers.opportunity_score) as peer_p75

    from subject_scores as own
    left join subject_scores as peers
        on
            own.grain = peers.grain
            and own.subject_code = peers.subject_code
            and own.tenant_id <> peers.tenant_id
    group by own.grain, own.tenant_id, own.subject_code

),

peer_benchmarks as (

    select
        own.grain || ':' || own.tenant_id::text || ':' || own.subject_code as benchmark_id,
        own.grain,
        own.tenant_id,
        case when own.grain = 'jtbd' then own.subject_code end as jtbd_code,
        case when own.grain = 'pillar' then own.subject_code end as pillar_code,
        round(own.opportunity_score, 1)::numeric(4, 1) as opportunity_score,
        case
            when peer_figures.peer_tenant_count >= {{ min_peers }} then 'published'
            else 'too few peers'
        end as peer_status,
        case
            when peer_figures.peer_tenant_count >= {{ min_peers }}
                then peer_figures.peer_tenant_count::integer
        end as peer_tenant_count,
        case
            when peer_figures.peer_tenant_count >= {{ min_peers }}
                then round(peer_figures.peer_median::numeric, 1)::numeric(4, 1)
        end as peer_median,
        case
            when peer_figures.peer_tenant_count >= {{ min_peers }}
                then round(peer_figures.peer_p25::numeric, 1)::numeric(4, 1)
        end as peer_p25,
        case
            when peer_figures.peer_tenant_count >= {{ min_peers }}
                then round(peer_figures.peer_p75::numeric, 1)::numeric(4, 1)
        end as peer_p75,
        current_timestamp as last_refreshed

    from subject_scores as own
    inner join peer_figures
        on
            own.grain = peer_figures.grain
            and own.tenant_id = peer_figures.tenant_id
            and own.subject_code = peer_figures.subject_code

)

select * from peer_benchmarks
