{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_persona_dashboard: the same persona's dashboard row computed from the VITAL
-- source tables - its organisation, the live jobs its role performs (jtbd_roles) with its stored
-- ODI scores, the jobs' AI suitability, the savings of their open AI opportunities and their
-- strategic pillars - with the same rounding as the mart.

with

persona as (

    select
        personas.id as persona_id,
        personas.tenant_id,
        business_functions.industry_id,
        business_functions.id as function_id,
        departments.id as department_id,
        roles.id as role_id,
        personas.persona_name,
        personas.archetype::text as archetype,
        roles.role_name,
        departments.department_name,
        business_functions.function_name,
        personas.ai_maturity_score,
        personas.work_complexity_score

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'org_roles') }} as roles
        on personas.role_id = roles.id
    inner join {{ source('vital', 'org_departments') }} as departments
        on roles.department_id = departments.id
    inner join {{ source('vital', 'org_business_functions') }} as business_functions
        on departments.function_id = business_functions.id
    where
        personas.validation_status = 'published'
        and personas.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
        and personas.persona_name = 'Automation-First Pricing Analyst'

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

persona_jobs as (

    select
        persona.persona_id,
        jobs.id as jtbd_id,
        jobs.complexity,
        jobs.frequency,
        odi_scores.opportunity_score,
        odi_scores.opportunity_classification,
        ai_suitability.overall_score as ai_suitability,
        job_savings.time_savings_hours,
        job_savings.cost_savings_usd

    from persona
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on persona.role_id = jtbd_roles.role_id
    inner join {{ source('vital', 'jtbd') }} as jobs
        on jtbd_roles.jtbd_id = jobs.id
    left join {{ source('vital', 'jtbd_odi_scores') }} as odi_scores
        on
            jobs.id = odi_scores.jtbd_id
            and persona.persona_id = odi_scores.persona_id
    left join {{ source('vital', 'jtbd_ai_suitability') }} as ai_suitability
        on jobs.id = ai_suitability.jtbd_id
    left join job_savings
        on jobs.id = job_savings.jtbd_id
    where jobs.deleted_at is null

),

job_totals as (

    select
        persona_id,
        count(*) as total_jtbd_count,
        count(*) filter (where complexity in ('high', 'very_high')) as high_complexity_jtbd_count,
        count(*) filter (where frequency = 'daily') as daily_frequency_jtbd_count,
        count(opportunity_score) as scored_jtbd_count,
        round(avg(opportunity_score), 1) as avg_opportunity_score,
        count(*) filter (
            where opportunity_classification = 'highly_underserved'
        ) as high_opportunity_count,
        count(*) filter (
            where opportunity_classification in ('underserved', 'highly_underserved')
        ) as underserved_job_count,
        round(avg(ai_suitability), 2) as avg_ai_suitability,
        count(*) filter (where ai_suitability >= 0.7) as automation_ready_count,
        round(coalesce(sum(time_savings_hours), 0), 1) as total_estimated_time_savings_hours,
        round(coalesce(sum(cost_savings_usd), 0), 2) as total_estimated_cost_savings_usd

    from persona_jobs
    group by persona_id

),

pillar_counts as (

    select
        pillars.code as pillar_code,
        count(*) as jobs_count

    from persona_jobs
    inner join {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
        on persona_jobs.jtbd_id = category_mappings.jtbd_id
    inner join {{ source('vital', 'strategic_pillars') }} as pillars
        on category_mappings.pillar_id = pillars.id
    group by pillars.code
    order by jobs_count desc, pillar_code asc
    limit 3

),

top_pillars as (

    select
        coalesce(
            array_agg(pillar_code order by jobs_count desc, pillar_code asc), '{}'::text[]
        ) as top_strategic_pillars

    from pillar_counts

),

persona_dashboard as (

    select
        persona.persona_id,
        persona.tenant_id,
        persona.industry_id,
        persona.function_id,
        persona.department_id,
        persona.role_id,
        persona.persona_name,
        persona.archetype,
        persona.role_name,
        persona.department_name,
        persona.function_name,
        persona.ai_maturity_score,
        persona.work_complexity_score,
        coalesce(job_totals.total_jtbd_count, 0) as total_jtbd_count,
        coalesce(job_totals.high_complexity_jtbd_count, 0) as high_complexity_jtbd_count,
        coalesce(job_totals.daily_frequency_jtbd_count, 0) as daily_frequency_jtbd_count,
        coalesce(job_totals.scored_jtbd_count, 0) as scored_jtbd_count,
        job_totals.avg_opportunity_score,
        coalesce(job_totals.high_opportunity_count, 0) as high_opportunity_count,
        coalesce(job_totals.underserved_job_count, 0) as underserved_job_count,
        job_totals.avg_ai_suitability,
        coalesce(job_totals.automation_ready_count, 0) as automation_ready_count,
        coalesce(job_totals.total_estimated_time_savings_hours, 0)
            as total_estimated_time_savings_hours,
        coalesce(job_totals.total_estimated_cost_savings_usd, 0)
            as total_estimated_cost_savings_usd,
        top_pillars.top_strategic_pillars,
        current_timestamp as last_refreshed

    from persona
    cross join top_pillars
    left join job_totals
        on persona.persona_id = job_totals.persona_id

)

select * from persona_dashboard
