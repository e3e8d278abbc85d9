{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_opportunity_pipeline: the tenant's open AI opportunities on live jobs
-- computed from the VITAL source tables - the job's stored ODI scores over the published
-- personas whose role performs it, its AI suitability, the value category of its top-ranked
-- reference opportunity and its strategic pillars - filtered and ordered like the mart query.

with

open_opportunities as (

    select
        ai_opportunities.id as ai_opportunity_id,
        ai_opportunities.tenant_id,
        ai_opportunities.jtbd_id,
        jobs.code as jtbd_code,
        jobs.name as jtbd_name,
        jobs.complexity,
        jobs.frequency,
        ai_opportunities.opportunity_name,
        ai_opportunities.status,
        ai_opportunities.priority,
        ai_opportunities.automation_potential,
        ai_opportunities.estimated_time_savings_hours,
        ai_opportunities.estimated_cost_savings_usd,
        ai_opportunities.created_at,
        ai_opportunities.updated_at

    from {{ source('vital', 'ai_opportunities') }} as ai_opportunities
    inner join {{ source('vital', 'jtbd') }} as jobs
        on ai_opportunities.jtbd_id = jobs.id
    where
        jobs.deleted_at is null
        and ai_opportunities.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
        and ai_opportunities.status in ('identified', 'evaluating', 'approved', 'in_progress')

),

job_scores as (

    select
        jtbd_roles.jtbd_id,
        round(avg(odi_scores.opportunity_score), 1) as avg_opportunity_score,
        max(odi_scores.opportunity_score) as max_opportunity_score,
        count(odi_scores.opportunity_score) as scored_personas_count,
        count(*) filter (
            where odi_scores.opportunity_classification in ('underserved', 'highly_underserved')
        ) as underserved_personas_count

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on personas.role_id = jtbd_roles.role_id
    left join {{ source('vital', 'jtbd_odi_scores') }} as odi_scores
        on
            jtbd_roles.jtbd_id = odi_scores.jtbd_id
            and personas.id = odi_scores.persona_id
    where
        personas.validation_status = 'published'
        and jtbd_roles.jtbd_id in (select open_opportunities.jtbd_id from open_opportunities)
    group by jtbd_roles.jtbd_id

),

top_value_drivers as (

    select distinct on (ref_opportunities.target_jtbd_id)
        ref_opportunities.target_jtbd_id as jtbd_id,
        value_drivers.value_category

    from {{ source('vital', 'ref_opportunities') }} as ref_opportunities
    left join {{ source('vital', 'ref_value_drivers') }} as value_drivers
        on ref_opportunities.primary_value_driver_id = value_drivers.id
    order by
        ref_opportunities.target_jtbd_id,
        ref_opportunities.priority_rank,
        ref_opportunities.id

),

job_pillars as (

    select
        category_mappings.jtbd_id,
        array_agg(distinct pillars.code order by pillars.code) as strategic_pillars

    from {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
    inner join {{ source('vital', 'strategic_pillars') }} as pillars
        on category_mappings.pillar_id = pillars.id
    group by category_mappings.jtbd_id

),

pipeline as (

    select
        open_opportunities.ai_opportunity_id,
        open_opportunities.tenant_id,
        open_opportunities.jtbd_id,
        open_opportunities.jtbd_code,
        open_opportunities.jtbd_name,
        open_opportunities.complexity,
        open_opportunities.frequency,
        open_opportunities.opportunity_name,
        open_opportunities.status,
        open_opportunities.priority,
        open_opportunities.automation_potential,
        open_opportunities.estimated_time_savings_hours,
        open_opportunities.estimated_cost_savings_usd,
        job_scores.avg_opportunity_score,
        job_scores.max_opportunity_score,
        coalesce(job_scores.scored_personas_count, 0) as scored_personas_count,
        coalesce(job_scores.underserved_personas_count, 0) as underserved_personas_count,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        coalesce(top_value_drivers.value_category, 'unknown') as primary_value_category,
        coalesce(job_pillars.strategic_pillars, '{}'::text[]) as strategic_pillars,
        open_opportunities.created_at,
        open_opportunities.updated_at

    from open_opportunities
    left join job_scores
        on open_opportunities.jtbd_id = job_scores.jtbd_id
    left join {{ source('vital', 'jtbd_ai_suitability') }} as ai_suitability
        on open_opportunities.jtbd_id = ai_suitability.jtbd_id
    left join top_value_drivers
        on open_opportunities.jtbd_id = top_value_drivers.jtbd_id
    left join job_pillars
        on open_opportunities.jtbd_id = job_pillars.jtbd_id

)

select * from pipeline
order by
    avg_opportunity_score desc nulls last,
    estimated_cost_savings_usd desc,
    ai_opportunity_id asc
