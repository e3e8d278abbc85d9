with

source as (

    select * from {{ source('vital', 'workflow_tasks') }}

),

renamed as (

    select
        -- keys
        id as workflow_task_id,

        -- foreign keys
        workflow_stage_id,
        assigned_role_id,

        -- descriptive
        name as task_name,

        -- numbers
        task_number,
        estimated_minutes,

        -- booleans
        is_automatable,

        -- timestamps
        created_at

    from source
    where {{ exclude_quarantined('workflow_tasks') }}

)

select * from renamed
