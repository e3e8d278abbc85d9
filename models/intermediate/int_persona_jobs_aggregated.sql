{#-
    One row per published persona: what its jobs add up to. The persona dashboard and the
    value_view_persona_aggregates rollup both read this model, so they always agree.
      high complexity        complexity in (high, very_high)
      high opportunity       classified highly_underserved (the top ODI band)
      underserved            classified underserved or highly_underserved
      automation ready       AI suitability of at least automation_ready_min_ai_suitability
      savings                estimated savings of the jobs' open AI opportunities
      top pillars            the three pillars most of the persona's jobs align to (ties by code)
    Averages and sums are rounded once here, to the precision of the specification's rollup table.
-#}

{%- set automation_ready_min_ai_suitability = 0.7 %}
{%- set top_pillars_limit = 3 %}

with

personas as (

    select * from {{ ref('int_published_personas_joined') }}

),

pairs as (

    select * from {{ ref('int_persona_jtbd_pairs_joined') }}

),

job_value as (

    select * from {{ ref('int_jtbd_value_aggregated') }}

),

persona_jobs as (

    select
        pairs.persona_id,
        count(*) as total_jtbd_count,
        count(*) filter (
            where pairs.complexity in ('high', 'very_high')
        ) as high_complexity_jtbd_count,
        count(*) filter (where pairs.frequency = 'daily') as daily_frequency_jtbd_count,
        count(pairs.opportunity_score) as scored_jtbd_count,
        round(avg(pairs.opportunity_score), 1) as avg_opportunity_score,
        count(*) filter (
            where pairs.opportunity_classification = 'highly_underserved'
        ) as high_opportunity_count,
        count(*) filter (
            where pairs.opportunity_classification in ('underserved', 'highly_underserved')
        ) as underserved_job_count,
        round(avg(pairs.ai_suitability), 2) as avg_ai_suitability,
        count(*) filter (
            where pairs.ai_suitability >= {{ automation_ready_min_ai_suitability }}
        ) as automation_ready_count,
        round(sum(job_value.estimated_time_savings_hours), 1)
            as total_estimated_time_savings_hours,
        round(sum(job_value.estimated_cost_savings_usd), 2) as total_estimated_cost_savings_usd

    from pairs
    inner join job_value
        on pairs.jtbd_id = job_value.jtbd_id
    group by pairs.persona_id

),

persona_pillar_counts as (

    select
        pairs.persona_id,
        pillar_codes.pillar_code,
        count(*) as jobs_count

    from pairs
    cross join lateral unnest(pairs.strategic_pillars) as pillar_codes (pillar_code)
    group by pairs.persona_id, pillar_codes.pillar_code

),

ranked_persona_pillars as (

    select
        persona_id,
        pillar_code,
        row_number() over (
            partition by persona_id
            order by jobs_count desc, pillar_code asc
        ) as pillar_rank

    from persona_pillar_counts

),

persona_top_pillars as (

    select
        persona_id,
        array_agg(pillar_code order by pillar_rank) as top_strategic_pillars

    from ranked_persona_pillars
    where pillar_rank <= {{ top_pillars_limit }}
    group by persona_id

),

persona_totals as (

    select
        personas.persona_id,
        personas.tenant_id,
        personas.industry_id,
        personas.function_id,
        personas.department_id,
        personas.role_id,
        personas.persona_name,
        personas.archetype,
        personas.role_name,
        personas.department_name,
        personas.function_name,
        personas.ai_maturity_score,
        personas.work_complexity_score,
        coalesce(persona_jobs.total_jtbd_count, 0) as total_jtbd_count,
        coalesce(persona_jobs.high_complexity_jtbd_count, 0) as high_complexity_jtbd_count,
        coalesce(persona_jobs.daily_frequency_jtbd_count, 0) as daily_frequency_jtbd_count,
        coalesce(persona_jobs.scored_jtbd_count, 0) as scored_jtbd_count,
        persona_jobs.avg_opportunity_score,
        coalesce(persona_jobs.high_opportunity_count, 0) as high_opportunity_count,
        coalesce(persona_jobs.underserved_job_count, 0) as underserved_job_count,
        persona_jobs.avg_ai_suitability,
        coalesce(persona_jobs.automation_ready_count, 0) as automation_ready_count,
        coalesce(persona_jobs.total_estimated_time_savings_hours, 0)
            as total_estimated_time_savings_hours,
        coalesce(persona_jobs.total_estimated_cost_savings_usd, 0)
            as total_estimated_cost_savings_usd,
        coalesce(persona_top_pillars.top_strategic_pillars, '{}'::text[]) as top_strategic_pillars

    from personas
    left join persona_jobs
        on personas.persona_id = persona_jobs.persona_id
    left join persona_top_pillars
        on personas.persona_id = persona_top_pillars.persona_id

)

select * from persona_totals
