{#-
    One row per live job: the value it carries. AI opportunities give the estimated savings
    (rejected opportunities carry none and are left out); value metrics give how many are tracked
    and how far they have come towards their targets.
-#}

with

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

ai_opportunities as (

    select * from {{ ref('stg_vital__ai_opportunities') }}

),

value_metrics as (

    select * from {{ ref('int_value_metrics_joined') }}

),

open_ai_opportunities as (

    select * from ai_opportunities
    where status <> 'rejected'

),

opportunity_savings as (

    select
        jtbd_id,
        count(*) as ai_opportunities_count,
        avg(automation_potential) as avg_automation_potential,
        sum(estimated_time_savings_hours) as estimated_time_savings_hours,
        sum(estimated_cost_savings_usd) as estimated_cost_savings_usd

    from open_ai_opportunities
    group by jtbd_id

),

metric_attainment as (

    select
        jtbd_id,
        count(*) as value_metrics_count,
        count(actual_value) as measured_value_metrics_count,
        count(*) filter (where is_target_met) as targets_met_count,
        avg(target_attainment_pct) as avg_target_attainment_pct

    from value_metrics
    group by jtbd_id

),

job_value as (

    select
        jobs.jtbd_id,
        coalesce(opportunity_savings.ai_opportunities_count, 0) as ai_opportunities_count,
        opportunity_savings.avg_automation_potential,
        coalesce(opportunity_savings.estimated_time_savings_hours, 0)
            as estimated_time_savings_hours,
        coalesce(opportunity_savings.estimated_cost_savings_usd, 0)
            as estimated_cost_savings_usd,
        coalesce(metric_attainment.value_metrics_count, 0) as value_metrics_count,
        coalesce(metric_attainment.measured_value_metrics_count, 0)
            as measured_value_metrics_count,
        coalesce(metric_attainment.targets_met_count, 0) as targets_met_count,
        metric_attainment.avg_target_attainment_pct

    from jobs
    left join opportunity_savings
        on jobs.jtbd_id = opportunity_savings.jtbd_id
    left join metric_attainment
        on jobs.jtbd_id = metric_attainment.jtbd_id

)

select * from job_value
