{#-
    One row per value metric of a live job, with its driver, job and (live) workflow, and how far
    the measured value has moved from the baseline towards the target:
        target_attainment_pct = 100 * (actual - baseline) / (target - baseline), clamped to 0-100,
    which reads the same whether the target lies above (quality) or below (time, cost) the
    baseline. It is null until an actual value is measured or when the target equals the baseline.
    It is kept unrounded: the marts that show it or average it round once, at the end.
-#}

with

value_metrics as (

    select * from {{ ref('stg_vital__value_metrics') }}

),

value_drivers as (

    select * from {{ ref('stg_vital__ref_value_drivers') }}

),

jobs as (

    select * from {{ ref('stg_vital__jtbd') }}

),

workflows as (

    select * from {{ ref('stg_vital__workflow_templates') }}

),

metrics_in_context as (

    select
        value_metrics.value_metric_id,
        value_metrics.tenant_id,
        value_metrics.jtbd_id,
        workflows.workflow_id,
        value_metrics.value_driver_id,
        value_metrics.metric_name,
        value_metrics.value_category,
        value_metrics.unit,
        value_drivers.value_driver_code,
        value_drivers.value_driver_name,
        jobs.jtbd_code,
        jobs.jtbd_name,
        workflows.workflow_name,
        value_metrics.baseline_value,
        value_metrics.target_value,
        value_metrics.actual_value,
        value_metrics.measured_at

    from value_metrics
    inner join jobs
        on value_metrics.jtbd_id = jobs.jtbd_id
    left join value_drivers
        on value_metrics.value_driver_id = value_drivers.value_driver_id
    left join workflows
        on value_metrics.workflow_id = workflows.workflow_id

),

attainment_computed as (

    select
        value_metric_id,
        tenant_id,
        jtbd_id,
        workflow_id,
        value_driver_id,
        metric_name,
        value_category,
        unit,
        value_driver_code,
        value_driver_name,
        jtbd_code,
        jtbd_name,
        workflow_name,
        baseline_value,
        target_value,
        actual_value,
        target_value - baseline_value as target_change,
        actual_value - baseline_value as actual_change,
        case
            when actual_value is not null and target_value <> baseline_value
                then least(
                    greatest(
                        100 * (actual_value - baseline_value) / (target_value - baseline_value),
                        0
                    ),
                    100
                )
        end as target_attainment_pct,
        case
            when actual_value is null then null
            when target_value >= baseline_value then actual_value >= target_value
            else actual_value <= target_value
        end as is_target_met,
        measured_at

    from metrics_in_context

)

select * from attainment_computed
