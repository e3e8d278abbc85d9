{{ config(meta={'dagster': {'ref': {'name': 'value_view_persona_aggregates', 'version': 1}}}) }}

-- The persona rollup table and the persona dashboard show the same figures for the same
-- personas: returns, for every persona present in only one of them or with a figure that
-- differs, its row from each side that has no identical twin on the other.

with

persona_dashboard as (

    select * from {{ ref('mv_value_view_persona_dashboard') }}

),

persona_aggregates as (

    select * from {{ ref('value_view_persona_aggregates') }}

),

dashboard_figures as (

    select
        persona_id,
        tenant_id,
        total_jtbd_count,
        high_complexity_jtbd_count,
        daily_frequency_jtbd_count,
        avg_opportunity_score,
        high_opportunity_count,
        underserved_job_count,
        avg_ai_suitability,
        automation_ready_count,
        total_estimated_time_savings_hours,
        total_estimated_cost_savings_usd

    from persona_dashboard

),

aggregate_figures as (

    select
        persona_id,
        tenant_id,
        total_jtbd_count,
        high_complexity_jtbd_count,
        daily_frequency_jtbd_count,
        avg_opportunity_score,
        high_opportunity_count,
        underserved_job_count,
        avg_ai_suitability,
        automation_ready_count,
        total_estimated_time_savings_hours,
        total_estimated_cost_savings_usd

    from persona_aggregates

),

only_in_dashboard as (

    select
        'persona dashboard' as found_in,
        differing.*

    from (
        select * from dashboard_figures
        except all
        select * from aggregate_figures
    ) as differing

),

only_in_aggregates as (

    select
        'persona aggregates' as found_in,
        differing.*

    from (
        select * from aggregate_figures
        except all
        select * from dashboard_figures
    ) as differing

),

disagreements as (

    select * from only_in_dashboard
    union all
    select * from only_in_aggregates

)

select * from disagreements
