with

source as (

    select * from {{ source('vital', 'workflow_stages') }}

),

renamed as (

    select
        -- keys
        id as workflow_stage_id,

        -- foreign keys
        workflow_template_id as workflow_id,

        -- descriptive
        name as stage_name,

        -- numbers
        stage_number,
        estimated_duration_hours,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('workflow_stages') }}

)

select * from renamed
