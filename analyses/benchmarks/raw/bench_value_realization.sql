{#- Not a dbt analysis: `value-view bench` compiles this file inline. It shares its name with
    the mart query in analyses/benchmarks/, which dbt allows only when this node is disabled. -#}
{{ config(enabled=false) }}

-- Raw twin of bench_value_realization: one tenant's value metrics of live jobs with their
-- driver, job and live workflow, the changes asked for and achieved and the target attainment
-- (clamped to 0-100, one decimal), computed from the VITAL source tables and ordered and
-- limited like the mart query.

with

value_realization as (

    select
        value_metrics.id as value_metric_id,
        value_metrics.tenant_id,
        value_metrics.jtbd_id,
        workflows.id as workflow_id,
        value_metrics.value_driver_id,
        value_metrics.metric_name,
        value_metrics.value_category,
        value_metrics.unit,
        value_drivers.code as value_driver_code,
        value_drivers.name as value_driver_name,
        jobs.code as jtbd_code,
        jobs.name as jtbd_name,
        workflows.name as workflow_name,
        value_metrics.baseline_value,
        value_metrics.target_value,
        value_metrics.actual_value,
        value_metrics.target_value - value_metrics.baseline_value as target_change,
        value_metrics.actual_value - value_metrics.baseline_value as actual_change,
        case
            when
                value_metrics.actual_value is not null
                and value_metrics.target_value <> value_metrics.baseline_value
                then round(
                    least(
                        greatest(
                            100
                            * (value_metrics.actual_value - value_metrics.baseline_value)
                            / (value_metrics.target_value - value_metrics.baseline_value),
                            0
                        ),
                        100
                    ),
                    1
                )
        end as target_attainment_pct,
        case
            when value_metrics.actual_value is null then null
            when value_metrics.target_value >= value_metrics.baseline_value
                then value_metrics.actual_value >= value_metrics.target_value
            else value_metrics.actual_value <= value_metrics.target_value
        end as is_target_met,
        value_metrics.measured_at,
        current_timestamp as last_refreshed

    from {{ source('vital', 'value_metrics') }} as value_metrics
    inner join {{ source('vital', 'jtbd') }} as jobs
        on value_metrics.jtbd_id = jobs.id
    left join {{ source('vital', 'ref_value_drivers') }} as value_drivers
        on value_metrics.value_driver_id = value_drivers.id
    left join {{ source('vital', 'workflow_templates') }} as workflows
        on
            value_metrics.workflow_template_id = workflows.id
            and workflows.deleted_at is null
    where
        jobs.deleted_at is null
        and value_metrics.tenant_id = 'f7aa6fd4-0af9-4706-8b31-034f1f7accda'

)

select * from value_realization
order by measured_at desc, value_metric_id desc
limit 5000
