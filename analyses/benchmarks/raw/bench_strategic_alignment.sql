{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_strategic_alignment: one tenant's seven pillars computed from the VITAL
-- source tables - the tenant's live jobs mapped to each pillar with their workflows, AI
-- suitability and value, and the published personas whose role performs them with their ODI
-- scores - in pillar order like the mart query.

with

tenant_jobs as (

    select jobs.id
    from {{ source('vital', 'jtbd') }} as jobs
    where
        jobs.deleted_at is null
        and jobs.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

),

job_workflows as (

    select
        workflows.jtbd_id,
        count(*) as workflows_count

    from {{ source('vital', 'workflow_templates') }} as workflows
    where workflows.deleted_at is null
    group by workflows.jtbd_id

),

job_savings as (

    select
        ai_opportunities.jtbd_id,
        sum(ai_opportunities.estimated_time_savings_hours) as time_savings_hours,
        sum(ai_opportunities.estimated_cost_savings_usd) as cost_savings_usd

    from {{ source('vital', 'ai_opportunities') }} as ai_opportunities
    where ai_opportunities.status <> 'rejected'
    group by ai_opportunities.jtbd_id

),

job_metrics as (

    select
        value_metrics.jtbd_id,
        count(*) as value_metrics_count

    from {{ source('vital', 'value_metrics') }} as value_metrics
    group by value_metrics.jtbd_id

),

pillar_jobs as (

    select
        category_mappings.pillar_id,
        count(*) as jobs_count,
        round(avg(category_mappings.alignment_weight), 2) as avg_alignment_weight,
        round(avg(ai_suitability.overall_score), 2) as avg_ai_suitability,
        coalesce(sum(job_workflows.workflows_count), 0) as workflows_count,
        round(coalesce(sum(job_savings.time_savings_hours), 0), 1)
            as total_estimated_time_savings_hours,
        round(coalesce(sum(job_savings.cost_savings_usd), 0), 2)
            as total_estimated_cost_savings_usd,
        coalesce(sum(job_metrics.value_metrics_count), 0) as value_metrics_count

    from {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
    inner join tenant_jobs
        on category_mappings.jtbd_id = tenant_jobs.id
    left join {{ source('vital', 'jtbd_ai_suitability') }} as ai_suitability
        on category_mappings.jtbd_id = ai_suitability.jtbd_id
    left join job_workflows
        on category_mappings.jtbd_id = job_workflows.jtbd_id
    left join job_savings
        on category_mappings.jtbd_id = job_savings.jtbd_id
    left join job_metrics
        on category_mappings.jtbd_id = job_metrics.jtbd_id
    group by category_mappings.pillar_id

),

pillar_pairs as (

    select
        category_mappings.pillar_id,
        count(distinct personas.id) as personas_count,
        round(avg(odi_scores.opportunity_score), 1) as avg_opportunity_score,
        count(*) filter (
            where odi_scores.opportunity_classification in ('underserved', 'highly_underserved')
        ) as underserved_pairs_count

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    inner join {{ source('vital', 'jtbd') }} as jobs
        on jtbd_roles.jtbd_id = jobs.id
    inner join {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
        on jobs.id = category_mappings.jtbd_id
    left join {{ source('vital', 'jtbd_odi_scores') }} as odi_scores
        on
            jobs.id = odi_scores.jtbd_id
            and personas.id = odi_scores.persona_id
    where
        jobs.deleted_at is null
        and personas.validation_status = 'published'
        and personas.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
    group by category_mappings.pillar_id

),

strategic_alignment as (

    select
        tenants.id as tenant_id,
        pillars.id as pillar_id,
        pillars.code as pillar_code,
        pillars.name as pillar_name,
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
        coalesce(pillar_jobs.value_metrics_count, 0) as value_metrics_count,
        current_timestamp as last_refreshed

    from {{ source('vital', 'tenants') }} as tenants
    cross join {{ source('vital', 'strategic_pillars') }} as pillars
    left join pillar_jobs
        on pillars.id = pillar_jobs.pillar_id
    left join pillar_pairs
        on pillars.id = pillar_pairs.pillar_id
    where tenants.id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

)

select * from strategic_alignment
order by pillar_code
