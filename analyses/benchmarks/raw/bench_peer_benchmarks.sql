{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_peer_benchmarks: every tenant's job and pillar scores computed from the
-- VITAL source tables (published personas whose role performs each live job, their ODI scores,
-- the jobs' pillars), each tenant beside the other tenants, filtered, ordered and limited like
-- the mart query.

{% set min_peers = 5 %}

with

pairs as (

    select
        personas.tenant_id,
        jobs.id as jtbd_id,
        jobs.code as jtbd_code,
        {{ odi_opportunity('odi_scores.importance_score', 'odi_scores.satisfaction_score') }}
            as opportunity_score

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    inner join {{ source('vital', 'jtbd') }} as jobs
        on
            jtbd_roles.jtbd_id = jobs.id
            and personas.tenant_id = jobs.tenant_id
    inner join {{ source('vital', 'jtbd_odi_scores') }} as odi_scores
        on
            jobs.id = odi_scores.jtbd_id
            and personas.id = odi_scores.persona_id
    where
        personas.validation_status = 'published'
        and jobs.deleted_at is null

),

job_pillars as (

    select
        category_mappings.jtbd_id,
        array_agg(distinct pillars.code) as strategic_pillars

    from {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
    inner join {{ source('vital', 'strategic_pillars') }} as pillars
        on category_mappings.pillar_id = pillars.id
    group by category_mappings.jtbd_id

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
where
    tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    and grain = 'jtbd'
order by jtbd_code asc
limit 1000
