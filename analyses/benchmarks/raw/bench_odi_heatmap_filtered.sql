{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_odi_heatmap_filtered: the same question asked of the VITAL source tables
-- the way the specification's heatmap (2.2) is written - personas -> roles -> departments ->
-- functions -> jtbd_roles -> jtbd, the stored ODI scores, AI suitability, the value driver of
-- the job's top-priority reference opportunity and its strategic pillars - then filtered,
-- ordered and limited like the mart query.

with

heatmap as (

    select
        personas.persona_name,
        personas.archetype::text as archetype,
        roles.role_name,
        departments.department_name,
        business_functions.function_name,
        jobs.code as jtbd_code,
        jobs.name as jtbd_name,
        jobs.complexity,
        jobs.frequency,
        odi_scores.importance_score,
        odi_scores.satisfaction_score,
        odi_scores.opportunity_score,
        odi_scores.opportunity_classification,
        ai_suitability.overall_score as ai_suitability,
        ai_suitability.recommended_service_layer,
        coalesce(value_drivers.value_category, 'unknown') as primary_value_category,
        coalesce(
            (
                select array_agg(pillars.code order by pillars.code)
                from {{ source('vital', 'jtbd_category_mappings') }} as category_mappings
                inner join {{ source('vital', 'strategic_pillars') }} as pillars
                    on category_mappings.pillar_id = pillars.id
                where category_mappings.jtbd_id = jobs.id
            ),
            '{}'::text[]
        ) as strategic_pillars,
        current_timestamp as last_refreshed,
        personas.tenant_id,
        business_functions.industry_id,
        business_functions.id as function_id,
        departments.id as department_id,
        roles.id as role_id,
        personas.id as persona_id,
        jobs.id as jtbd_id

    from {{ source('vital', 'personas') }} as personas
    inner join {{ source('vital', 'org_roles') }} as roles
        on personas.role_id = roles.id
    inner join {{ source('vital', 'org_departments') }} as departments
        on roles.department_id = departments.id
    inner join {{ source('vital', 'org_business_functions') }} as business_functions
        on departments.function_id = business_functions.id
    inner join {{ source('vital', 'jtbd_roles') }} as jtbd_roles
        on roles.id = jtbd_roles.role_id
    inner join {{ source('vital', 'jtbd') }} as jobs
        on jtbd_roles.jtbd_id = jobs.id
    left join {{ source('vital', 'jtbd_odi_scores') }} as odi_scores
        on
            jobs.id = odi_scores.jtbd_id
            and personas.id = odi_scores.persona_id
    left join {{ source('vital', 'jtbd_ai_suitability') }} as ai_suitability
        on jobs.id = ai_suitability.jtbd_id
    left join lateral (
        select ref_opportunities.primary_value_driver_id
        from {{ source('vital', 'ref_opportunities') }} as ref_opportunities
        where ref_opportunities.target_jtbd_id = jobs.id
        order by ref_opportunities.priority_rank, ref_opportunities.id
        limit 1
    ) as top_opportunities on true
    left join {{ source('vital', 'ref_value_drivers') }} as value_drivers
        on top_opportunities.primary_value_driver_id = value_drivers.id
    where
        jobs.deleted_at is null
        and personas.validation_status = 'published'
        and personas.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'
        and personas.archetype = 'AUTOMATOR'
        and odi_scores.opportunity_score >= 10

)

select * from heatmap
order by opportunity_score desc, persona_id desc, jtbd_id desc
limit 100
