with

tenants as (

    select * from {{ ref('stg_vital__tenants') }}

),

pillars as (

    select * from {{ ref('stg_vital__strategic_pillars') }}

),

category_mappings as (

    select * from {{ ref('stg_vital__jtbd_category_mappings') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

ai_suitability as (

    select * from {{ ref('stg_vital__jtbd_ai_suitability') }}

),

pairs as (

    select * from {{ ref('int_persona_jtbd_pairs_joined') }}

),

job_workflows as (

    select * from {{ ref('int_jtbd_workflows_aggregated') }}

),

job_value as (

    select * from {{ ref('int_jtbd_value_aggregated') }}

),

pillar_jobs as (

    select
        jobs.tenant_id,
        category_mappings.pillar_id,
        count(*) as jobs_count,
        round(avg(category_mappings.alignment_weight), 2) as avg_alignment_weight,
        round(avg(ai_suitability.overall_score), 2) as avg_ai_suitability,
        sum(job_workflows.workflows_count)::bigint as workflows_count,
        round(sum(job_value.estimated_time_savings_hours), 1)
            as total_estimated_time_savings_hours,
        round(sum(job_value.estimated_cost_savings_usd), 2) as total_estimated_cost_savings_usd,
        sum(job_value.value_metrics_count)::bigint as value_metrics_count

    from category_mappings
    inner join jobs
        on category_mappings.jtbd_id = jobs.jtbd_id
    inner join job_workflows
        on category_mappings.jtbd_id = job_workflows.jtbd_id
    inner join job_value
        on category_mappings.jtbd_id = job_value.jtbd_id
    left join ai_suitability
        on category_mappings.jtbd_id = ai_suitability.jtbd_id
    group by jobs.tenant_id, category_mappings.pillar_id

),

-- Per pillar and persona first: a count of distinct personas over every pair would sort all
-- pair-pillar rows (459,000 at scale 10, on disk), where these two hashed groupings read them
-- once; the average is carried as a sum and a count so the pillar's is the pairs' own.
pillar_personas as (

    select
        pairs.tenant_id,
        category_mappings.pillar_id,
        pairs.persona_id,
        sum(pairs.opportunity_score) as opportunity_score_sum,
        count(pairs.opportunity_score) as opportunity_score_count,
        count(*) filter (
            where pairs.opportunity_classification in ('underserved', 'highly_underserved')
        ) as underserved_pairs_count

    from pairs
    inner join category_mappings
        on pairs.jtbd_id = category_mappings.jtbd_id
    group by pairs.tenant_id, category_mappings.pillar_id, pairs.persona_id

),

pillar_pairs as (

    select
        tenant_id,
        pillar_id,
        count(*) as personas_count,
        round(sum(opportunity_score_sum) / nullif(sum(opportunity_score_count), 0), 1)
            as avg_opportunity_score,
        sum(underserved_pairs_count)::bigint as underserved_pairs_count

    from pillar_personas
    group by tenant_id, pillar_id

),

strategic_alignment as (

    select
        tenants.tenant_id,
        pillars.pillar_id,
        pillars.pillar_code,
        pillars.pillar_name,
        coalesce(pillar_jobs.jobs_count, 0) as jobs_count,
        coalesce(pillar_pairs.personas_count, 0) as personas_count,
        pillar_pairs.avg_opportunity_score,
        coalesce(pillar_pairs.underserved_pairs_count, 0) as underserved_pairs_count,
        pillar_jobs.avg_alignment_weight,
        coalesce(pillar_jobs.workflows_count, 0) as workflows_count,
        pillar_jobs.avg_ai_suitability,
        coalesce(pillar_jobs.total_estimated_time_savings_hours, 0)
            as total_estimated_time_savings_hours,
        coalesce(pillar_jobs.total_estimated_cost_savings_usd, 0)
            as total_estimated_cost_savings_usd,
        coalesce(pillar_jobs.value_metrics_count, 0) as value_metrics_count

    from tenants
    cross join pillars
    left join pillar_jobs
        on
            tenants.tenant_id = pillar_jobs.tenant_id
            and pillars.pillar_id = pillar_jobs.pillar_id
    left join pillar_pairs
        on
            tenants.tenant_id = pillar_pairs.tenant_id
            and pillars.pillar_id = pillar_pairs.pillar_id

)

select * from strategic_alignment
