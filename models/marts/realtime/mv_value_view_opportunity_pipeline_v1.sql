{#-
    The AI opportunity pipeline (see the YAML): the maintained pipeline, refreshed when its
    sources or the job summary change, within the staleness bound its YAML states, with when the
    job summary behind each job's ODI context was refreshed.
-#}

with

pipeline as (

    select * from {{ ref('int_opportunity_pipeline_joined') }}

)

select
    ai_opportunity_id,
    tenant_id,
    jtbd_id,
    jtbd_code,
    jtbd_name,
    complexity,
    frequency,
    opportunity_name,
    status,
    priority,
    automation_potential,
    estimated_time_savings_hours,
    estimated_cost_savings_usd,
    avg_opportunity_score,
    max_opportunity_score,
    scored_personas_count,
    underserved_personas_count,
    ai_suitability,
    recommended_service_layer,
    primary_value_category,
    strategic_pillars,
    created_at,
    updated_at,
    case
        when has_odi_context
            then {{ value_view_last_refreshed(ref('mv_value_view_jtbd_summary')) }}
    end as odi_context_refreshed_at
from pipeline
