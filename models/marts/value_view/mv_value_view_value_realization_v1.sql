with

value_metrics as (

    select * from {{ ref('int_value_metrics_joined') }}

),

value_realization as (

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
        target_change,
        actual_change,
        round(target_attainment_pct, 1) as target_attainment_pct,
        is_target_met,
        measured_at

    from value_metrics

)

select * from value_realization
