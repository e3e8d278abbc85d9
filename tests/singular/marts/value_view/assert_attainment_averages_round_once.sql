{{ config(meta={'dagster': {'ref': {'name': 'mv_value_view_jtbd_summary', 'version': 1}}}) }}

-- Averages of target attainment are rounded once, at the end: each job's and each workflow's
-- average equals the average of the unrounded attainments of its measured metrics, computed here
-- from the staged metrics and the attainment formula written out
-- (100 x (actual - baseline) / (target - baseline), clamped to 0-100), rounded to one decimal.
-- Rounding each metric first and the average again is off by 0.1 on some rows.

with

jobs as (

    select * from {{ ref('mv_value_view_jtbd_summary') }}

),

workflows as (

    select * from {{ ref('mv_value_view_workflow_analytics') }}

),

value_metrics as (

    select * from {{ ref('stg_vital__value_metrics') }}

),

attainments as (

    select
        jtbd_id,
        workflow_id,
        least(
            greatest(100 * (actual_value - baseline_value) / (target_value - baseline_value), 0),
            100
        ) as target_attainment_pct

    from value_metrics
    where actual_value is not null and target_value <> baseline_value

),

job_averages as (

    select
        jtbd_id,
        round(avg(target_attainment_pct), 1) as expected_avg_target_attainment_pct

    from attainments
    group by jtbd_id

),

workflow_averages as (

    select
        workflow_id,
        round(avg(target_attainment_pct), 1) as expected_avg_target_attainment_pct

    from attainments
    where workflow_id is not null
    group by workflow_id

),

mismatches as (

    select
        'jtbd' as grain,
        jobs.jtbd_id as entity_id,
        jobs.avg_target_attainment_pct,
        job_averages.expected_avg_target_attainment_pct

    from jobs
    left join job_averages
        on jobs.jtbd_id = job_averages.jtbd_id
    where
        jobs.avg_target_attainment_pct
        is distinct from job_averages.expected_avg_target_attainment_pct

    union all

    select
        'workflow' as grain,
        workflows.workflow_id as entity_id,
        workflows.avg_target_attainment_pct,
        workflow_averages.expected_avg_target_attainment_pct

    from workflows
    left join workflow_averages
        on workflows.workflow_id = workflow_averages.workflow_id
    where
        workflows.avg_target_attainment_pct
        is distinct from workflow_averages.expected_avg_target_attainment_pct

)

select * from mismatches
