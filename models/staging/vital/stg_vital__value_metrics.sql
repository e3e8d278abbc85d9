with

source as (

    select * from {{ source('vital', 'value_metrics') }}

),

renamed as (

    select
        -- keys
        id as value_metric_id,

        -- foreign keys
        tenant_id,
        jtbd_id,
        workflow_template_id as workflow_id,
        value_driver_id,

        -- descriptive
        metric_name,
        value_category,
        unit,

        -- numbers
        baseline_value,
        target_value,
        actual_value,

        -- timestamps
        measured_at,
        created_at

    from source
    where {{ exclude_quarantined('value_metrics') }}

)

select * from renamed
