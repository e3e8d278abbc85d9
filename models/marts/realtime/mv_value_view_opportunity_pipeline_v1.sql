{#-
    The AI opportunity pipeline (see the YAML): the maintained pipeline, refreshed when its
    sources change, within the staleness bound its YAML states, with each job's ODI context
    joined from the hourly job summary at read time (by its unique job index), and when that
    summary was refreshed.
-#}

with

pipeline as (

    select * from {{ ref('int_opportunity_pipeline_joined') }}

),

job_summaries as (

    select * from {{ ref('mv_value_view_jtbd_summary') }}

)

select
    pipeline.ai_opportunity_id,
    pipeline.tenant_id,
    pipeline.jtbd_id,
    pipeline.jtbd_code,
    pipeline.jtbd_name,
    pipeline.complexity,
    pipeline.frequency,
    pipeline.opportunity_name,
    pipeline.status,
    pipeline.priority,
    pipeline.automation_potential,
    pipeline.estimated_time_savings_hours,
    pipeline.estimated_cost_savings_usd,
    job_summaries.avg_opportunity_score::numeric(4, 1) as avg_opportunity_score,
    job_summaries.max_opportunity_score::numeric(4, 2) as max_opportunity_score,
    coalesce(job_summaries.scored_personas_count, 0)::bigint as scored_personas_count,
    coalesce(
        job_summaries.highly_underserved_count + job_summaries.underserved_count, 0
    )::bigint as underserved_personas_count,
    pipeline.ai_suitability,
    pipeline.recommended_service_layer,
    pipeline.primary_value_category,
    pipeline.strategic_pillars,
    pipeline.created_at,
    pipeline.updated_at,
    case
        when job_summaries.jtbd_id is not null
            then {{ value_view_last_refreshed(ref('mv_value_view_jtbd_summary')) }}
    end as odi_context_refreshed_at
from pipeline
left join job_summaries
    on pipeline.jtbd_id = job_summaries.jtbd_id
