with

persona_jobs as (

    select * from {{ ref('int_persona_jobs_aggregated') }}

),

persona_aggregates as (

    select
        persona_id,
        tenant_id,
        total_jtbd_count::integer as total_jtbd_count,
        high_complexity_jtbd_count::integer as high_complexity_jtbd_count,
        daily_frequency_jtbd_count::integer as daily_frequency_jtbd_count,
        avg_opportunity_score::numeric(4, 1) as avg_opportunity_score,
        high_opportunity_count::integer as high_opportunity_count,
        underserved_job_count::integer as underserved_job_count,
        avg_ai_suitability::numeric(3, 2) as avg_ai_suitability,
        automation_ready_count::integer as automation_ready_count,
        total_estimated_time_savings_hours::numeric(10, 1) as total_estimated_time_savings_hours,
        total_estimated_cost_savings_usd::numeric(15, 2) as total_estimated_cost_savings_usd,
        current_timestamp as last_computed_at

    from persona_jobs

)

select * from persona_aggregates
