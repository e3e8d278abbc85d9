with

persona_jobs as (

    select * from {{ ref('int_persona_jobs_aggregated') }}

),

persona_dashboard as (

    select
        persona_id,
        tenant_id,
        industry_id,
        function_id,
        department_id,
        role_id,
        persona_name,
        archetype,
        role_name,
        department_name,
        function_name,
        ai_maturity_score,
        work_complexity_score,
        total_jtbd_count,
        high_complexity_jtbd_count,
        daily_frequency_jtbd_count,
        scored_jtbd_count,
        avg_opportunity_score,
        high_opportunity_count,
        underserved_job_count,
        avg_ai_suitability,
        automation_ready_count,
        total_estimated_time_savings_hours,
        total_estimated_cost_savings_usd,
        top_strategic_pillars

    from persona_jobs

)

select * from persona_dashboard
